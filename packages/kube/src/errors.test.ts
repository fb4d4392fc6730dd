import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError, isAlreadyExists, isConflict, isNotFound } from './errors.ts';

describe('ApiError', () => {
  it('carries the reason and message of a Status body', () => {
    const body = JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409, message: 'configmaps "x" already exists' });
    const error = ApiError.fromResponse(409, 'POST', '/api/v1/namespaces/d/configmaps', body);
    assert.equal(error.code, 409);
    assert.equal(error.reason, 'AlreadyExists');
    assert.equal(error.message, 'POST /api/v1/namespaces/d/configmaps: 409 AlreadyExists: configmaps "x" already exists');
    assert.ok(isAlreadyExists(error));
    assert.ok(!isConflict(error), 'AlreadyExists is a 409 but not a Conflict');
  });

  it('falls back to the HTTP code when the body is not a Status', () => {
    const error = ApiError.fromResponse(404, 'GET', '/x', '<html>not found</html>');
    assert.equal(error.reason, 'NotFound');
    assert.ok(isNotFound(error));
    assert.match(error.message, /<html>not found<\/html>/);
  });
});
