// The plugin protocol's gRPC code: vCluster's pluginv2 service and hashicorp/go-plugin's own
// services, generated from proto/ by scripts/generate.ts (run by the set-up; not committed).
export * as pluginv2 from './gen/pluginv2/pluginv2.ts';
export * as broker from './gen/plugin/grpc_broker.ts';
export * as stdio from './gen/plugin/grpc_stdio.ts';
export * as controller from './gen/plugin/grpc_controller.ts';
export * as health from './gen/grpc/health/v1/health.ts';
export { Empty as ProtobufEmpty } from './gen/google/protobuf/empty.ts';
export * as grpc from '@grpc/grpc-js';
