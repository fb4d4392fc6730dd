import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostApiPath, parseKubeletPath, type KubeletRequest } from './paths.ts';

function parsed(url: string): KubeletRequest {
  const out = parseKubeletPath(url);
  assert.ok(!('notServed' in out), `${url}: ${'notServed' in out ? out.notServed : ''}`);
  return out;
}

const HOST = ['vcluster-demo', 'web-1-x-default-x-demo'] as const;

describe('kubelet paths', () => {
  it('logs keep every option the apiserver sends, booleans as the API spells them', () => {
    const request = parsed('/containerLogs/default/web-1/nginx?follow=true&tailLines=5&sinceSeconds=30&timestamps=true&previous=1&limitBytes=100&stream=Stdout');
    assert.deepEqual([request.verb, request.namespace, request.pod, request.container], ['log', 'default', 'web-1', 'nginx']);
    assert.equal(hostApiPath(request, ...HOST),
      '/api/v1/namespaces/vcluster-demo/pods/web-1-x-default-x-demo/log?container=nginx&follow=true&previous=true&timestamps=true&sinceSeconds=30&tailLines=5&limitBytes=100&stream=Stdout');
    assert.equal(hostApiPath(parsed('/containerLogs/default/web-1/nginx?sinceTime=2026-11-30T10%3A00%3A00Z'), ...HOST),
      '/api/v1/namespaces/vcluster-demo/pods/web-1-x-default-x-demo/log?container=nginx&sinceTime=2026-11-30T10%3A00%3A00Z');
  });

  it('exec turns the kubelet\'s input/output/error/tty into stdin/stdout/stderr/tty and keeps the command in order', () => {
    const request = parsed('/exec/default/web-1/nginx?command=echo&command=hi+there&input=1&output=1&error=1');
    assert.equal(hostApiPath(request, ...HOST),
      '/api/v1/namespaces/vcluster-demo/pods/web-1-x-default-x-demo/exec?container=nginx&stdin=true&stdout=true&stderr=true&command=echo&command=hi+there');
    const withUid = parsed('/exec/default/web-1/0c2a-uid/nginx?command=sh&tty=1&output=1');
    assert.deepEqual([withUid.uid, withUid.container], ['0c2a-uid', 'nginx']);
    assert.equal(hostApiPath(withUid, ...HOST), '/api/v1/namespaces/vcluster-demo/pods/web-1-x-default-x-demo/exec?container=nginx&stdout=true&tty=true&command=sh');
  });

  it('attach is exec without a command', () => {
    assert.equal(hostApiPath(parsed('/attach/default/web-1/nginx?input=1&output=1&tty=1&command=ignored'), ...HOST),
      '/api/v1/namespaces/vcluster-demo/pods/web-1-x-default-x-demo/attach?container=nginx&stdin=true&stdout=true&tty=true');
  });

  it('port-forward passes the ports, with or without the pod UID', () => {
    assert.equal(hostApiPath(parsed('/portForward/default/web-1?port=80&port=443'), ...HOST),
      '/api/v1/namespaces/vcluster-demo/pods/web-1-x-default-x-demo/portforward?ports=80&ports=443');
    const request = parsed('/portForward/default/web-1/0c2a-uid');
    assert.equal(request.uid, '0c2a-uid');
    assert.equal(hostApiPath(request, ...HOST), '/api/v1/namespaces/vcluster-demo/pods/web-1-x-default-x-demo/portforward');
  });

  it('names are decoded from the path and encoded again for the host', () => {
    const request = parsed('/containerLogs/default/web-1/my%20c');
    assert.equal(request.container, 'my c');
    assert.match(hostApiPath(request, ...HOST), /\?container=my\+c$/);
  });

  it('anything else is not served, saying what is', () => {
    for (const url of ['/pods', '/metrics', '/stats/summary', '/run/default/web-1/nginx', '/containerLogs/default/web-1',
      '/containerLogs/default/web-1/c/extra', '/exec/default', '/exec/default/web-1/a/b/c', '/portForward/default/web-1/uid/x',
      '/exec//web-1/c', '/containerLogs/default/%E0%A4%A/c']) {
      const out = parseKubeletPath(url);
      assert.ok('notServed' in out, url);
    }
    const out = parseKubeletPath('/metrics');
    assert.match('notServed' in out ? out.notServed : '', /only for \/containerLogs, \/exec, \/attach and \/portForward/);
  });
});
