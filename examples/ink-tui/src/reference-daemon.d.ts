// Types for the two reference-daemon modules this example uses (plain JS in the package).
declare module 'stt-capture/daemon/v1-daemon.js' {
  export interface ReferenceDaemon {
    close(): Promise<void>
  }
  export function startV1Daemon(
    socketPath: string,
    options?: { tokens?: Record<string, string[]>; model?: 'realtime' | 'batch'; retain?: boolean },
  ): Promise<ReferenceDaemon>
}

declare module 'stt-capture/daemon/socket-path.js' {
  export function v1SocketPath(): string
}
