import type { FastifyRequest } from 'fastify';

/**
 * Query parameters whose values are never logged: a client may put a credential in the query
 * string (`?token=`, `?password=`), which would otherwise reach the log with the URL.
 */
const SECRET_PARAMETER = /pass|token|key|secret|auth|session|cookie|csrf|uid|code|signature|jwt|refresh|access/i;

/**
 * The request as log lines show it: Fastify's default fields, with the values of secret-looking
 * query parameters replaced. Headers and bodies are never logged.
 */
export function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: withoutSecrets(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

export function withoutSecrets(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return url;
  const parameters = url
    .slice(query + 1)
    .split('&')
    .map((parameter) => {
      const equals = parameter.indexOf('=');
      const name = equals === -1 ? parameter : parameter.slice(0, equals);
      return equals !== -1 && SECRET_PARAMETER.test(safeDecode(name)) ? `${name}=[redacted]` : parameter;
    });
  return `${url.slice(0, query)}?${parameters.join('&')}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}
