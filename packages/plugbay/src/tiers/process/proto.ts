/**
 * The protocol's protobuf messages, loaded once with protobufjs from the repo's `proto/` directory (the files are
 * the contract; nothing is generated). Both carriers encode with these types.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** The `proto/` directory: found by walking up from this module (dist/tiers/process → repo root). */
export function protoDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'proto', 'plugbay', 'v1', 'plugin.proto');
    if (fs.existsSync(candidate)) return path.join(dir, 'proto');
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('proto/plugbay/v1/plugin.proto not found above this module');
    dir = parent;
  }
}

export interface ProtocolTypes {
  root: protobuf.Root;
  Error: protobuf.Type;
  DescribeRequest: protobuf.Type;
  DescribeResponse: protobuf.Type;
  StartRequest: protobuf.Type;
  StartResponse: protobuf.Type;
  CallRequest: protobuf.Type;
  CallResponse: protobuf.Type;
  StopRequest: protobuf.Type;
  StopResponse: protobuf.Type;
  HealthCheckRequest: protobuf.Type;
  HealthCheckResponse: protobuf.Type;
  ControllerEmpty: protobuf.Type;
  StdioData: protobuf.Type;
  Empty: protobuf.Type;
}

let cached: ProtocolTypes | undefined;

export function protocolTypes(): ProtocolTypes {
  if (cached) return cached;
  const dir = protoDir();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    // google/protobuf/* come with protobufjs (protobuf.common); the rest live under proto/.
    return target.startsWith('google/protobuf/') ? target : path.join(dir, target);
  };
  root.loadSync([
    'plugbay/v1/plugin.proto',
    'grpc/health/v1/health.proto',
    'plugin/grpc_controller.proto',
    'plugin/grpc_stdio.proto',
  ]);
  const t = (name: string) => root.lookupType(name);
  cached = {
    root,
    Error: t('plugbay.v1.Error'),
    DescribeRequest: t('plugbay.v1.DescribeRequest'),
    DescribeResponse: t('plugbay.v1.DescribeResponse'),
    StartRequest: t('plugbay.v1.StartRequest'),
    StartResponse: t('plugbay.v1.StartResponse'),
    CallRequest: t('plugbay.v1.CallRequest'),
    CallResponse: t('plugbay.v1.CallResponse'),
    StopRequest: t('plugbay.v1.StopRequest'),
    StopResponse: t('plugbay.v1.StopResponse'),
    HealthCheckRequest: t('grpc.health.v1.HealthCheckRequest'),
    HealthCheckResponse: t('grpc.health.v1.HealthCheckResponse'),
    ControllerEmpty: t('plugin.Empty'),
    StdioData: t('plugin.StdioData'),
    Empty: t('google.protobuf.Empty'),
  };
  return cached;
}

let warmed = false;

/**
 * Builds the types and has protobufjs generate the codecs of a plugin's first Describe, Start and Call now rather
 * than on first use (~15 ms the first time). The process tier calls it right after spawning a plugin, so that this
 * work overlaps the child's boot instead of following its handshake. Other messages stay lazy: on one core, warming
 * what the first calls do not use would only add to the start.
 */
export function warmProtocolTypes(): void {
  if (warmed) return;
  const t = protocolTypes();
  const firstUse = [
    t.DescribeRequest,
    t.DescribeResponse,
    t.StartRequest,
    t.StartResponse,
    t.CallRequest,
    t.root.lookupType('plugbay.v1.CallMetadata'),
    t.CallResponse,
  ];
  for (const type of firstUse) type.setup();
  warmed = true;
}

/** Decoded plugbay.v1.Error (camelCase fields, as protobufjs gives them). */
export interface ErrorMessage {
  code?: string;
  message?: string;
  details?: Uint8Array;
  retryable?: boolean;
  hasRetryable?: boolean;
}
