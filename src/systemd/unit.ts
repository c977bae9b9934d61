/**
 * The systemd unit of edgevisor, as text: `edgevisor systemd unit` prints
 * it, `edgevisor systemd install` writes it, and `systemd/edgevisor.service`
 * in the repository is kept equal to {@linkcode UNIT} by a test.
 *
 * @module
 */

/** Options of {@linkcode unitText}. */
export interface UnitOptions {
  /** The user (and group) edgevisor and its services run as. @default "edgevisor" */
  user?: string;
  /** Registry file. @default "/etc/edgevisor/registry.json" */
  registry?: string;
  /** The edgevisor binary. @default "/usr/local/bin/edgevisor" */
  bin?: string;
  /** Seconds systemd waits for a stop before SIGKILL. @default 90 */
  timeoutStopSec?: number;
}

/** Where the unit and its defaults live. */
export const UNIT_DEFAULTS = {
  user: "edgevisor",
  registry: "/etc/edgevisor/registry.json",
  bin: "/usr/local/bin/edgevisor",
  timeoutStopSec: 90,
  name: "edgevisor.service",
  dir: "/etc/systemd/system",
  stateDir: "/var/lib/edgevisor",
  logDir: "/var/log/edgevisor",
} as const;

/**
 * `TimeoutStopSec` that leaves every service its `stop_timeout` (they stop
 * in parallel) plus 30 s for SIGKILL and the rest: at least 90.
 */
export function timeoutStopFor(largestStopTimeout: number): number {
  return Math.max(UNIT_DEFAULTS.timeoutStopSec, Math.ceil(largestStopTimeout) + 30);
}

/** The unit text for `options`; without options, {@linkcode UNIT}. */
export function unitText(options: UnitOptions = {}): string {
  const user = options.user ?? UNIT_DEFAULTS.user;
  const registry = options.registry ?? UNIT_DEFAULTS.registry;
  const bin = options.bin ?? UNIT_DEFAULTS.bin;
  const timeout = options.timeoutStopSec ?? UNIT_DEFAULTS.timeoutStopSec;
  const registryDir = registry.slice(0, Math.max(1, registry.lastIndexOf("/")));
  return `# edgevisor: supervises the services of this device.
# Installed by "edgevisor systemd install"; by hand: copy it to
# /etc/systemd/system/edgevisor.service, then "systemctl daemon-reload" and
# "systemctl enable --now edgevisor". Change settings with "systemctl edit edgevisor".

[Unit]
Description=edgevisor process supervisor
Wants=network-online.target
After=network-online.target
# At most 5 starts in 5 minutes, then systemd gives up until "systemctl reset-failed".
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
# READY=1 once the API listens and the autostart services are launched.
Type=notify
NotifyAccess=main
ExecStart=${bin} run --registry ${registry}
# Re-read the registry: added, removed and changed services only.
ExecReload=/bin/kill -HUP $MAINPID
User=${user}
Group=${user}
# Restart edgevisor when it dies or stops answering the watchdog, but not
# when the registry is invalid (exit code 2): that needs a person.
Restart=on-failure
RestartSec=2s
RestartPreventExitStatus=2
WatchdogSec=30s
# SIGTERM goes to edgevisor alone, which stops every service with its own
# stop_signal and stop_timeout; whatever is left in the unit's cgroup once
# edgevisor has exited, or after TimeoutStopSec, is killed by systemd.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=${timeout}s
# Logs: /var/log/edgevisor; pid files and lock: /var/lib/edgevisor.
StateDirectory=edgevisor
LogsDirectory=edgevisor
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
# Runtime changes (POST/PUT/DELETE /api/services) are written to the registry.
ReadWritePaths=-${registryDir}

[Install]
WantedBy=multi-user.target
`;
}

/** The default unit: `/usr/local/bin/edgevisor run --registry /etc/edgevisor/registry.json` as `edgevisor`. */
export const UNIT: string = unitText();
