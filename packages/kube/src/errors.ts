/** A Kubernetes API error, carrying the Status object's reason and code. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: Record<string, unknown> | undefined;

  constructor(code: number, reason: string, message: string, status?: Record<string, unknown>) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.status = status;
  }

  /** Builds an error from a response body, which is a Status object when the server wrote it. */
  static fromResponse(code: number, method: string, path: string, body: string): ApiError {
    let status: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(body);
      if (parsed !== null && typeof parsed === 'object' && (parsed as { kind?: unknown }).kind === 'Status') {
        status = parsed as Record<string, unknown>;
      }
    } catch {
      // Not JSON (a proxy or a crashed server wrote it): keep the text as the message.
    }
    const reason = typeof status?.['reason'] === 'string' ? status['reason'] : reasonForCode(code);
    const detail = typeof status?.['message'] === 'string' ? status['message'] : body.trim().slice(0, 500);
    return new ApiError(code, reason, `${method} ${path}: ${code} ${reason}: ${detail}`, status);
  }
}

function reasonForCode(code: number): string {
  switch (code) {
    case 400: return 'BadRequest';
    case 401: return 'Unauthorized';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    case 405: return 'MethodNotAllowed';
    case 409: return 'Conflict';
    case 410: return 'Gone';
    case 422: return 'Invalid';
    case 429: return 'TooManyRequests';
    case 500: return 'InternalError';
    case 503: return 'ServiceUnavailable';
    case 504: return 'Timeout';
    default: return 'Unknown';
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.code === 404;
}

export function isAlreadyExists(error: unknown): boolean {
  return error instanceof ApiError && error.reason === 'AlreadyExists';
}

export function isConflict(error: unknown): boolean {
  return error instanceof ApiError && error.code === 409 && error.reason === 'Conflict';
}
