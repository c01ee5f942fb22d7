/**
 * node:http's createServer, taken with process.getBuiltinModule: an ES `import … from 'node:http'`
 * builds the module's ES facade, which reads every export, lazy ones included, and so loads Node's
 * internal copy of undici (~1 MB of source, several MB resident) that a server never uses
 * (nodejs/node#59686). Measured: idle RSS (bench/RESULTS.md, "RSS").
 */
import type * as Http from 'node:http';

export const { createServer } = process.getBuiltinModule('node:http') as typeof Http;
