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
export type { HealthCheckSpec, RestartPolicy, ServiceSpec } from "./src/registry/schema.ts";
export {
  type ExitInfo,
  type HealthInfo,
  type LogStream,
  type LogTail,
  type OrchestratorInfo,
  SERVICE_STATES,
  type ServiceControl,
  type ServiceState,
  type ServiceStatus,
  type StopOptions,
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
export { Supervisor, type SupervisorOptions } from "./src/supervisor/supervisor.ts";
export { EventBus, type Listener, type StateEvent, type SupervisorEvent } from "./src/events.ts";
export {
  decideAfterExit,
  type ExitDecision,
  type RestartConfig,
  restartConfig,
  restartDelayMs,
} from "./src/supervisor/policy.ts";
