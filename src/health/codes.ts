/** Stable result codes for network failures, from the errno that caused them. */
export function networkCode(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      if (error.code?.startsWith('ERR_TLS') || /certificate|self.signed|unable to verify/i.test(error.message)) return 'tls-verify';
      if (/SSL|TLS|handshake/i.test(error.message)) return 'tls-handshake';
      return 'error';
  }
}

/** The phases of a network check, in order; a run that runs out of time names the one it was in. */
export type Phase = 'connect' | 'tls' | 'response' | 'body';

/** One stable code per phase, so logs, status and metrics tell a silent host from a slow answer. */
export function timeoutCode(phase: Phase): string {
  switch (phase) {
    case 'connect':
      return 'connect-timeout';
    case 'tls':
      return 'tls-timeout';
    case 'response':
      return 'response-timeout';
    case 'body':
      return 'body-timeout';
  }
}

const WAITING_FOR: Record<Phase, string> = {
  connect: 'no TCP connection',
  tls: 'connected, no TLS handshake',
  response: 'connected, no response',
  body: 'answered, body not complete',
};

/** The verdict of a run cut by its deadline (`timeout` ms after its start) in `phase`. */
export function timeoutVerdict(phase: Phase, timeout: number): { code: string; detail: string } {
  return { code: timeoutCode(phase), detail: `${WAITING_FOR[phase]} within ${timeout} ms` };
}
