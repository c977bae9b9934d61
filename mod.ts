/**
 * edgevisor as a library: the orchestrator and the supervision core, the
 * registry loader, the API app with its route table, OpenAPI document and
 * HTTP client, the command line, NATS, systemd, and the shared types and
 * errors. `docs/library.md` documents each of these; nothing else is
 * exported.
 *
 * @example
 * ```ts ignore
 * import { createApp, loadRegistry } from "@edgevisor/edgevisor";
 * const registry = await loadRegistry("service_registry.json");
 * ```
 *
 * @module
 */

// The orchestrator, the command line, the registry.
export { type RunOptions, runOrchestrator } from "./src/orchestrator.ts";
export { main, type ProgramIo } from "./src/cli/program.ts";
export {
  loadRegistry,
  type LoadRegistryOptions,
  parseRegistry,
  type ParseRegistryOptions,
  type Registry,
} from "./src/registry/load.ts";
export { loadYamlParser } from "./src/registry/parse_text.ts";
export type { HealthCheckSpec, RestartPolicy, ServiceSpec } from "./src/registry/schema.ts";
export { VERSION } from "./src/version.ts";

// Supervision.
export { Supervisor, type SupervisorOptions } from "./src/supervisor/supervisor.ts";
export { EventBus, type Listener } from "./src/events.ts";
export {
  decideAfterExit,
  type ExitDecision,
  type RestartConfig,
  restartConfig,
  restartDelayMs,
} from "./src/supervisor/policy.ts";
export { deepEqual, diffRegistries } from "./src/supervisor/reload.ts";
export { editRegistryFile, type RegistryEdit } from "./src/registry/edit.ts";
export { type AtomicWriteOptions, writeFileAtomic } from "./src/registry/persist.ts";
export {
  type FollowedFile,
  type FollowedLines,
  type FollowFilesOptions,
  followLogFiles,
} from "./src/logs/follow.ts";

// Types and errors.
export {
  type ExitInfo,
  type FollowOptions,
  type HealthEvent,
  type HealthInfo,
  type HealthOptions,
  type HealthRecord,
  type HistoryEvent,
  type JobRun,
  type LogLines,
  type LogOptions,
  type LogStream,
  type LogTail,
  type MergedLogEntry,
  type OrchestratorInfo,
  type RegistryDiff,
  SERVICE_STATES,
  type ServiceControl,
  type ServiceHistory,
  type ServiceState,
  type ServiceStatus,
  type StateEvent,
  type StopOptions,
  type SupervisorEvent,
  type Watch,
} from "./src/types.ts";
export {
  BadRequestError,
  ConflictError,
  EdgevisorError,
  type EdgevisorErrorOptions,
  type ErrorKind,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  NotImplementedError,
  RegistryError,
  type RegistryProblem,
  SpawnError,
  TooLargeError,
  UnauthorizedError,
  UnavailableError,
  UnsupportedMediaTypeError,
} from "./src/errors.ts";

// The HTTP API.
export { type AppOptions, createApp } from "./src/api/app.ts";
export type { AuthOptions } from "./src/api/auth.ts";
export type { RequestGuardOptions } from "./src/api/request_guard.ts";
export { type LiveOptions, SseChannel } from "./src/api/sse.ts";
export { type OperationName, pathOf, PATHS } from "./src/api/paths.ts";
export { type OpenApiDocument, openApiDocument } from "./src/api/openapi.ts";
export { type ListenAddress, parseListenAddress } from "./src/api/listen.ts";
export type {
  ActionBody,
  ErrorBody,
  HistoryBody,
  ListBody,
  LogsBody,
  OrchestratorHealthBody,
  ProblemsBody,
  ReloadBody,
  RemoveBody,
  RunBody,
  ServiceHealthBody,
  StatusBody,
} from "./src/api/wire.ts";
export { ApiClient, type ApiClientOptions, ApiError, type LogsOptions } from "./src/cli/client.ts";

// NATS.
export type { ControlEndpoint, ControlRequest } from "./src/nats/control.ts";
export type { StorageOptions } from "./src/nats/jetstream.ts";
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
  type FleetListing,
  type FleetNode,
  type FleetOptions,
  type FleetWatch,
  type FleetWatchOptions,
  type IgnoredMessage,
  type NodeState,
} from "./src/nats/fleet.ts";

// systemd.
export { UNIT, type UnitOptions, unitText } from "./src/systemd/unit.ts";
export { Notifier, type NotifierOptions } from "./src/systemd/notify.ts";
