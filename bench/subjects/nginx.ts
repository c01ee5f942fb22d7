/**
 * nginx `proxy_pass` with a keep-alive upstream, when `nginx` is on the PATH (the harness never
 * installs it). Runs in the foreground from a temp prefix, so it needs no root and leaves nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForHttp, type Child, type ProcessGroup } from '../processes.ts';

export function findNginx(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export async function startNginx(group: ProcessGroup, binary: string, upstreamOrigin: string, dir: string): Promise<{ child: Child; origin: string }> {
  const prefix = join(dir, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const port = await freePort();
  const upstream = new URL(upstreamOrigin);
  const conf = `
worker_processes auto;
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream fake { server ${upstream.hostname}:${upstream.port}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`;
  const file = join(prefix, 'nginx.conf');
  writeFileSync(file, conf);
  // -e: the start-up error log too goes to stderr, not to a system path a non-root user cannot open.
  const child = group.spawn('nginx', binary, ['-e', 'stderr', '-p', prefix, '-c', file]);
  child.process.stderr?.on('data', (text: Buffer) => process.stderr.write(`[nginx] ${text}`));
  const origin = `http://127.0.0.1:${port}`;
  // Any answer proves it listens (the fake upstream 404s a GET /).
  await waitForHttp(`${origin}/`, child, { anyStatus: true });
  return { child, origin };
}
