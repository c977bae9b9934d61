/**
 * Defaults of `edgevisor run`, which differ under systemd (`$INVOCATION_ID`,
 * `$LOGS_DIRECTORY` or `$STATE_DIRECTORY` set): the registry in
 * `/etc/edgevisor`, logs in `/var/log/edgevisor`, state in `/var/lib/edgevisor`.
 *
 * @module
 */
import { UNIT_DEFAULTS } from "./unit.ts";

/** Default paths of `edgevisor run`. */
export interface RunDefaults {
  /** Registry file. */
  registry: string;
  /** Directory of the service logs. */
  logDir: string;
  /** State directory. */
  stateDir: string;
}

/**
 * The defaults for the environment `env` (an empty value counts as unset):
 * `$EDGEVISOR_REGISTRY`, the first path of `$LOGS_DIRECTORY` and of
 * `$STATE_DIRECTORY` win; otherwise the systemd paths when run by systemd,
 * else `service_registry.json`, `logs` and `.edgevisor`.
 */
export function runDefaults(env: (name: string) => string | undefined): RunDefaults {
  const get = (name: string) => {
    const value = env(name);
    return value === "" ? undefined : value;
  };
  const first = (name: string) => get(name)?.split(":").find((p) => p !== "");
  const systemd = get("INVOCATION_ID") !== undefined || get("LOGS_DIRECTORY") !== undefined ||
    get("STATE_DIRECTORY") !== undefined;
  return {
    registry: get("EDGEVISOR_REGISTRY") ??
      (systemd ? UNIT_DEFAULTS.registry : "service_registry.json"),
    logDir: first("LOGS_DIRECTORY") ?? (systemd ? UNIT_DEFAULTS.logDir : "logs"),
    stateDir: first("STATE_DIRECTORY") ?? (systemd ? UNIT_DEFAULTS.stateDir : ".edgevisor"),
  };
}
