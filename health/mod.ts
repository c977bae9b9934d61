/**
 * Health checks: the check kinds and the prober. A leaf module: it imports
 * nothing from the rest of edgevisor.
 *
 * @module
 */
export {
  createCheck,
  type CreateCheckOptions,
  detachedLaunch,
  execCheck,
  fileCheck,
  httpCheck,
  httpCheckUrl,
  type Launcher,
  LogWatch,
  runCheck,
  tcpCheck,
} from "./checks.ts";
export { Prober, type ProberOptions } from "./prober.ts";
export {
  type Check,
  type CheckRecord,
  type CheckResult,
  type CheckSpec,
  type CheckTiming,
  checkTiming,
  type CheckTimingSpec,
  type ExecCheckSpec,
  type FileCheckSpec,
  type HealthState,
  type HttpCheckSpec,
  type LogCheckSpec,
  type TcpCheckSpec,
} from "./types.ts";
