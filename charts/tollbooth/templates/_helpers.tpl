{{/*
Named templates shared by this chart's own objects and by an app chart that injects Tollbooth into
its pods as a native sidecar. Every public template takes a root context (`.`): this chart's own,
or the app chart's, where Tollbooth's values are `.Values.tollbooth` (the dependency's name).
Names and paths therefore never depend on `.Chart`, which is the app's chart in the latter case.
*/}}

{{/* Object names: "<release>-tollbooth", or the release name when it already says tollbooth. */}}
{{- define "tollbooth.fullname" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- if $v.fullnameOverride -}}
{{- $v.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains "tollbooth" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-tollbooth" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end }}

{{- define "tollbooth.selectorLabels" -}}
{{- $v := .Values.tollbooth | default .Values -}}
app.kubernetes.io/name: {{ $v.nameOverride | default "tollbooth" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of this chart's own objects (rendered in this chart's context only). */}}
{{- define "tollbooth.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tollbooth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: llm-gateway
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tollbooth.image" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- if $v.image.digest -}}
{{- printf "%s@%s" $v.image.repository $v.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $v.image.repository $v.image.tag -}}
{{- end -}}
{{- end }}

{{/* Where the app reaches the proxy: loopback in sidecar mode, the Service standalone. */}}
{{- define "tollbooth.proxyUrl" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- if eq $v.mode "sidecar" -}}
{{- printf "http://127.0.0.1:%v" $v.ports.proxy -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%v" (include "tollbooth.fullname" .) .Release.Namespace $v.ports.proxy -}}
{{- end -}}
{{- end }}

{{/*
tollbooth.yaml: the `config` value, with the parts the chart owns filled in (listeners, the catalog
next to it in the ConfigMap, the ledger directory on its volume).
*/}}
{{- define "tollbooth.configFile" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- $sidecar := eq $v.mode "sidecar" -}}
{{- $cfg := deepCopy $v.config -}}
{{- $proxy := dict "host" ($v.listen.proxyHost | default (ternary "127.0.0.1" "0.0.0.0" $sidecar)) "port" $v.ports.proxy -}}
{{- $ops := dict "host" ($v.listen.opsHost | default "0.0.0.0") "port" $v.ports.ops -}}
{{- $_ := set $cfg "listeners" (dict "proxy" $proxy "ops" $ops) -}}
{{- $_ = set $cfg "catalog" "./catalog" -}}
{{- $ledger := deepCopy ($cfg.ledger | default dict) -}}
{{- $_ = set $ledger "dir" $v.ledger.mountPath -}}
{{- $_ = set $cfg "ledger" $ledger -}}
{{- toYaml $cfg -}}
{{- end }}

{{/*
The catalog files bundled with the chart (files/catalog, a copy of the repository's config/catalog
written by scripts/chart-catalog.ts, which also writes this list), one path per line.
*/}}
{{- define "tollbooth.bundledCatalog" -}}
models/anthropic.yaml
models/azure.yaml
models/bedrock.yaml
models/cerebras.yaml
models/cohere.yaml
models/deepseek.yaml
models/fireworks.yaml
models/gemini.yaml
models/groq.yaml
models/mistral.yaml
models/openai.yaml
models/openrouter.yaml
models/perplexity.yaml
models/together.yaml
models/xai.yaml
providers.yaml
{{- end }}

{{/* Catalog paths (below catalog/) in the ConfigMap: the bundled ones and `catalog.files`, one per line. */}}
{{- define "tollbooth.catalogPaths" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- $paths := list -}}
{{- if $v.catalog.bundled -}}
{{- $paths = splitList "\n" (include "tollbooth.bundledCatalog" .) -}}
{{- end -}}
{{- range $path, $_ := $v.catalog.files -}}
{{- $paths = append $paths $path -}}
{{- end -}}
{{- $paths | uniq | sortAlpha | join "\n" -}}
{{- end }}

{{/* ConfigMap keys cannot hold "/": catalog/models/openai.yaml is stored as catalog--models--openai.yaml. */}}
{{- define "tollbooth.catalogKey" -}}
{{- printf "catalog--%s" (replace "/" "--" .) -}}
{{- end }}

{{/* A digest of everything in the ConfigMap, for rolloutOnConfigChange. */}}
{{- define "tollbooth.configChecksum" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- printf "%s\n%s\n%s" (include "tollbooth.configFile" .) (toYaml $v.catalog) $v.image.tag | sha256sum -}}
{{- end }}

{{/*
The Deployment strategy. With the ledger on a claim, Recreate: the new pod can only mount the claim
once the old one has released it, and the ledger never has two writers (values.yaml,
ledger.persistence, says what it costs). Otherwise a rolling update that never drops capacity.
An app chart in sidecar mode may include it too.
*/}}
{{- define "tollbooth.deploymentStrategy" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- if $v.ledger.persistence.enabled -}}
type: Recreate
{{- else -}}
type: RollingUpdate
rollingUpdate:
  maxUnavailable: 0
  maxSurge: 1
{{- end -}}
{{- end }}

{{- define "tollbooth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "tollbooth.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end }}

{{/*
NetworkPolicy rules for the pods running Tollbooth, as lists of rules. Standalone, the chart's own
NetworkPolicy uses them; in sidecar mode an app chart includes them in its pods' policy, next to
its own ports (a policy that selects a pod allows only what some policy lists for it).
"tollbooth.networkPolicy.ingress": the proxy port (standalone only: a sidecar's proxy is on
loopback) from `networkPolicy.proxy.from` or the namespace, the ops port from the monitoring
namespace and `networkPolicy.ops.from`. "tollbooth.networkPolicy.egress": DNS, HTTPS, never the
cloud metadata address, the EKS Pod Identity agent when `workloadIdentity.aws.podIdentity`, plus
`networkPolicy.egress.extra`.
*/}}
{{- define "tollbooth.networkPolicy.ingress" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- $np := $v.networkPolicy -}}
{{- if ne $v.mode "sidecar" }}
- from:
    {{- if $np.proxy.from }}
    {{- toYaml $np.proxy.from | nindent 4 }}
    {{- else }}
    - podSelector: {}
    {{- end }}
  ports:
    - { port: {{ $v.ports.proxy }}, protocol: TCP }
{{- end }}
{{- if or $np.ops.monitoringNamespace $np.ops.from }}
- from:
    {{- with $np.ops.monitoringNamespace }}
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ . }}
    {{- end }}
    {{- with $np.ops.from }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - { port: {{ $v.ports.ops }}, protocol: TCP }
{{- end }}
{{- end }}

{{- define "tollbooth.networkPolicy.egress" -}}
{{- $v := .Values.tollbooth | default .Values -}}
- to:
    # In-cluster DNS (kube-dns, node-local caches), or a resolver outside the cluster.
    - namespaceSelector: {}
    - ipBlock: { cidr: 0.0.0.0/0, except: [169.254.169.254/32] }
    - ipBlock: { cidr: "::/0", except: ["fd00:ec2::254/128"] }
  ports:
    - { port: 53, protocol: UDP }
    - { port: 53, protocol: TCP }
- to:
    # Providers over HTTPS; never the cloud metadata address (node credentials).
    - ipBlock: { cidr: 0.0.0.0/0, except: [169.254.169.254/32] }
    - ipBlock: { cidr: "::/0", except: ["fd00:ec2::254/128"] }
  ports:
    - { port: 443, protocol: TCP }
{{- if $v.workloadIdentity.aws.podIdentity }}
- to:
    # The EKS Pod Identity agent on the node: link-local, plain http (workloadIdentity.aws).
    - ipBlock: { cidr: 169.254.170.23/32 }
    - ipBlock: { cidr: "fd00:ec2::23/128" }
  ports:
    - { port: 80, protocol: TCP }
{{- end }}
{{- with $v.networkPolicy.egress.extra }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod annotations Tollbooth needs; an app chart includes them in its pod template's annotations. */}}
{{- define "tollbooth.podAnnotations" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- if $v.rolloutOnConfigChange -}}
checksum/tollbooth-config: {{ include "tollbooth.configChecksum" . }}
{{- end -}}
{{- end }}

{{/*
The pod volumes Tollbooth mounts. The ConfigMap is one directory volume (never subPath): the kubelet
swaps its `..data` link atomically and Tollbooth reloads. `items` lays catalog keys out as files.
*/}}
{{- define "tollbooth.volumes" -}}
{{- $v := .Values.tollbooth | default .Values -}}
- name: tollbooth-config
  configMap:
    name: {{ include "tollbooth.fullname" . }}
    items:
      - key: tollbooth.yaml
        path: tollbooth.yaml
      {{- range $path := splitList "\n" (include "tollbooth.catalogPaths" .) }}
      - key: {{ include "tollbooth.catalogKey" $path }}
        path: {{ printf "catalog/%s" $path }}
      {{- end }}
- name: tollbooth-ledger
  {{- if $v.ledger.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ $v.ledger.persistence.existingClaim | default (printf "%s-ledger" (include "tollbooth.fullname" .)) }}
  {{- else }}
  emptyDir:
    sizeLimit: {{ $v.ledger.sizeLimit }}
  {{- end }}
- name: tollbooth-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- range $m := $v.secrets.mounts }}
- name: {{ printf "tollbooth-secret-%s" $m.name }}
  secret:
    secretName: {{ $m.secretName }}
    optional: {{ $m.optional | default false }}
{{- end }}
{{- end }}

{{/* The Tollbooth container, as a list item. Takes (dict "root" <root context> "sidecar" <bool>). */}}
{{- define "tollbooth.container" -}}
{{- $root := .root -}}
{{- $sidecar := .sidecar -}}
{{- $v := $root.Values.tollbooth | default $root.Values -}}
- name: tollbooth
  image: {{ include "tollbooth.image" $root }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if $sidecar }}
  # A native sidecar: started before the app containers, running beside them, stopped after them.
  restartPolicy: Always
  {{- end }}
  args: [serve, --config, /etc/tollbooth/tollbooth.yaml]
  ports:
    {{- if not $sidecar }}
    - name: tollbooth
      containerPort: {{ $v.ports.proxy }}
      protocol: TCP
    {{- end }}
    - name: tollbooth-ops
      containerPort: {{ $v.ports.ops }}
      protocol: TCP
  {{- if or $v.secrets.env $v.extraEnv }}
  env:
    {{- range $e := $v.secrets.env }}
    - name: {{ $e.name }}
      valueFrom:
        secretKeyRef:
          name: {{ $e.secretName }}
          key: {{ $e.key }}
          optional: {{ $e.optional | default false }}
    {{- end }}
    {{- with $v.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  volumeMounts:
    - name: tollbooth-config
      mountPath: /etc/tollbooth
      readOnly: true
    - name: tollbooth-ledger
      mountPath: {{ $v.ledger.mountPath }}
    - name: tollbooth-tmp
      mountPath: /tmp
    {{- range $m := $v.secrets.mounts }}
    - name: {{ printf "tollbooth-secret-%s" $m.name }}
      mountPath: {{ $m.mountPath }}
      readOnly: true
    {{- end }}
  # Liveness waits for this; in sidecar mode the app's containers wait for it too.
  startupProbe:
    httpGet: { path: /readyz, port: tollbooth-ops }
    periodSeconds: {{ $v.probes.startup.periodSeconds }}
    failureThreshold: {{ $v.probes.startup.failureThreshold }}
    timeoutSeconds: {{ $v.probes.startup.timeoutSeconds }}
  livenessProbe:
    httpGet: { path: /healthz, port: tollbooth-ops }
    periodSeconds: {{ $v.probes.liveness.periodSeconds }}
    failureThreshold: {{ $v.probes.liveness.failureThreshold }}
    timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
  readinessProbe:
    httpGet: { path: /readyz, port: tollbooth-ops }
    periodSeconds: {{ $v.probes.readiness.periodSeconds }}
    failureThreshold: {{ $v.probes.readiness.failureThreshold }}
    timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
  {{- with $v.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  {{- if and (not $sidecar) $v.standalone.preStopSleepSeconds }}
  lifecycle:
    # Keep serving while the endpoint removal reaches every proxy, then SIGTERM drains in-flight calls.
    preStop:
      exec:
        command: [sleep, {{ $v.standalone.preStopSleepSeconds | quote }}]
  {{- end }}
{{- end }}

{{/* For an app chart: the entry to put under the pod's `initContainers`. */}}
{{- define "tollbooth.sidecar" -}}
{{- include "tollbooth.container" (dict "root" . "sidecar" true) -}}
{{- end }}

{{/*
Workload identity (values.yaml, workloadIdentity): the ServiceAccount's annotations (IRSA's role,
Azure's client and tenant ids, then serviceAccount.annotations) and the pods' labels (Azure's
webhook selects pods by azure.workload.identity/use). An app chart running Tollbooth as its sidecar
includes both in its own account and pod template.
*/}}
{{- define "tollbooth.serviceAccountAnnotations" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- $a := deepCopy ($v.serviceAccount.annotations | default (dict)) -}}
{{- with $v.workloadIdentity.aws.roleArn }}{{ $_ := set $a "eks.amazonaws.com/role-arn" . }}{{ end -}}
{{- with $v.workloadIdentity.azure.clientId }}{{ $_ := set $a "azure.workload.identity/client-id" . }}{{ end -}}
{{- with $v.workloadIdentity.azure.tenantId }}{{ $_ := set $a "azure.workload.identity/tenant-id" . }}{{ end -}}
{{- if $a }}{{ toYaml $a }}{{ end -}}
{{- end }}

{{- define "tollbooth.podLabels" -}}
{{- $v := .Values.tollbooth | default .Values -}}
{{- if $v.workloadIdentity.azure.enabled -}}
azure.workload.identity/use: "true"
{{- end -}}
{{- end }}
