/**
 * edgevisor as a library: the API app, its HTTP client, the command line,
 * the orchestrator, the registry loader, and the shared types and errors.
 *
 * @example
 * ```ts
 * import { createApp, loadRegistry } from "@edgevisor/edgevisor";
 * const registry = await loadRegistry("service_registry.json");
 * ```
 *
 * @module
 */
export { type AppOptions, createApp } from "./src/api/app.ts";
export { type ListenAddress, parseListenAddress } from "./src/api/listen.ts";
export {
  type AuthOptions,
  isLoopback,
  MAX_BODY_BYTES,
  readTokenFile,
  TokenFileError,
} from "./src/api/auth.ts";
export { openApiDocument } from "./src/api/openapi.ts";
export { type LiveOptions, SseChannel } from "./src/api/sse.ts";
export {
  type FollowedFile,
  type FollowedLines,
  type FollowFilesOptions,
  followLogFiles,
} from "./src/logs/follow.ts";
export type {
  ActionBody,
  ErrorBody,
  ListBody,
  LogsBody,
  OrchestratorHealthBody,
  ServiceHealthBody,
  StatusBody,
} from "./src/api/wire.ts";
export { ApiClient, type ApiClientOptions, ApiError, type LogsOptions } from "./src/cli/client.ts";
export { main, type ProgramIo } from "./src/cli/program.ts";
export { type RunOptions, runOrchestrator } from "./src/orchestrator.ts";
export {
  loadRegistry,
  type LoadRegistryOptions,
  parseRegistry,
  type ParseRegistryOptions,
  type Registry,
} from "./src/registry/load.ts";
export { loadYamlParser } from "./src/registry/parse_text.ts";
export type { HealthCheckSpec, RestartPolicy, ServiceSpec } from "./src/registry/schema.ts";
export {
  type ExitInfo,
  type FollowOptions,
  type HealthInfo,
  type HealthOptions,
  type HealthRecord,
  type JobRun,
  type LogLines,
  type LogStream,
  type LogTail,
  type OrchestratorInfo,
  SERVICE_STATES,
  type ServiceControl,
  type ServiceState,
  type ServiceStatus,
  type StopOptions,
  type Watch,
} from "./src/types.ts";
export {
  BadRequestError,
  ConflictError,
  EdgevisorError,
  NotFoundError,
  RegistryError,
  type RegistryProblem,
  SpawnError,
} from "./src/errors.ts";
export { VERSION } from "./src/version.ts";
export { formatPrometheus } from "./src/api/prometheus.ts";
export {
  type Check,
  type CheckResult,
  type CheckSpec,
  createCheck,
  Prober,
  type ProberOptions,
  runCheck,
} from "./health/mod.ts";
export { Supervisor, type SupervisorOptions } from "./src/supervisor/supervisor.ts";
export {
  EventBus,
  type HealthEvent,
  type Listener,
  type StateEvent,
  type SupervisorEvent,
} from "./src/events.ts";
export {
  decideAfterExit,
  type ExitDecision,
  type RestartConfig,
  restartConfig,
  restartDelayMs,
} from "./src/supervisor/policy.ts";
export {
  type EventMessage,
  type HeartbeatMessage,
  NatsPublisher,
  type NatsPublisherOptions,
  type NatsSource,
  type StatusMessage,
} from "./src/nats/publisher.ts";
export {
  ControlError,
  FleetClient,
  type FleetNode,
  type FleetOptions,
  liveness,
  type NodeLiveness,
} from "./src/nats/fleet.ts";
export { deepEqual, diffRegistries, type RegistryDiff } from "./src/supervisor/reload.ts";
export { editRegistryFile, type RegistryEdit } from "./src/registry/edit.ts";
export { type AtomicWriteOptions, writeFileAtomic } from "./src/registry/persist.ts";
export { UNIT, type UnitOptions, unitText } from "./src/systemd/unit.ts";
export {
  Notifier,
  type NotifierOptions,
  type NotifyAddress,
  parseNotifySocket,
} from "./src/systemd/notify.ts";
