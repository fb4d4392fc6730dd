/**
 * A plugin's log: hclog JSON lines on stderr, the form vCluster's host shows (plugin-protocol.md
 * Compatibility notes B.4; plain stderr lines would be hidden at Debug). Never stdout: after the
 * handshake line the host discards it.
 */
export interface Log {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function hclogLine(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}, now = new Date()): string {
  return JSON.stringify({ '@level': level, '@message': message, '@timestamp': now.toISOString(), ...fields });
}

export function stderrLog(module?: string, write: (line: string) => void = (line) => process.stderr.write(line)): Log {
  const emit = (level: 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>): void => {
    write(`${hclogLine(level, message, { ...(module ? { '@module': module } : {}), ...fields })}\n`);
  };
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}
