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
# Each service gets a cgroup of its own under the unit's cgroup, which edgevisor may manage.
Delegate=yes

# Sandbox. The services run inside it too: relax a setting for all of them
# with "systemctl edit edgevisor" (e.g. ReadWritePaths=/srv/data, ProtectHome=no).
# Left out: PrivateDevices (services use devices), ProtectClock (it can close
# every device but /dev/rtc, and it forbids reading the clock's state),
# ProtectControlGroups (it makes the delegated cgroup read-only), and
# MemoryDenyWriteExecute (JIT compilers need it, V8's included).
# Nothing, setuid programs included, gains privileges.
NoNewPrivileges=yes
# No capabilities, even for a program that runs as root.
CapabilityBoundingSet=
# The OS is read-only; only ReadWritePaths= and the directories of the unit are writable.
ProtectSystem=strict
# /home, /root and /run/user are hidden.
ProtectHome=yes
# /tmp and /var/tmp of the unit's own, shared by edgevisor and its services.
PrivateTmp=yes
# Mounts made inside the unit stay inside it.
PrivateMounts=yes
# /proc shows the processes of the unit's user only.
ProtectProc=invisible
# /proc/sys and /sys are read-only (devices in /dev and the unit's cgroup stay writable).
ProtectKernelTunables=yes
# No loading or unloading of kernel modules.
ProtectKernelModules=yes
# No access to the kernel log (dmesg, /dev/kmsg).
ProtectKernelLogs=yes
# No change of the hostname; a change made by the system shows after a restart of the unit.
ProtectHostname=yes
# No namespaces: no containers nor sandboxes (bubblewrap, Chromium's) inside the unit.
RestrictNamespaces=yes
# Sockets: local, IPv4, IPv6, netlink (network interfaces) and CAN buses.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_CAN
# No realtime scheduling (SCHED_FIFO, SCHED_RR), which can starve the whole system.
RestrictRealtime=yes
# No setuid or setgid bits on files.
RestrictSUIDSGID=yes
# No change of the execution domain (personality(2)).
LockPersonality=yes
# Only the machine's native system calls: no 32-bit programs on a 64-bit system.
SystemCallArchitectures=native
# No system calls for mounts, kernel modules, reboot, swap, raw I/O, CPU emulation, obsolete ones.
SystemCallFilter=~@cpu-emulation @module @mount @obsolete @raw-io @reboot @swap
# A filtered system call fails with EPERM instead of killing the process.
SystemCallErrorNumber=EPERM
# System V IPC objects and POSIX shared memory of the user are removed when the unit stops.
RemoveIPC=yes
# New files are not readable by other users.
UMask=0027
# Runtime changes (POST/PUT/DELETE /api/services) are written to the registry.
ReadWritePaths=-${registryDir}

[Install]
WantedBy=multi-user.target
`;
}

/** The default unit: `/usr/local/bin/edgevisor run --registry /etc/edgevisor/registry.json` as `edgevisor`. */
export const UNIT: string = unitText();
