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
