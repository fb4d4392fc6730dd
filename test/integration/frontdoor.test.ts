import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { CORE, Informer, KubeClient, loadKubeconfig, type KubeObject } from '@kubenest/kube';
import { ensurePki } from '@kubenest/kubenest';
import { cliSandbox, eventually, killProcess, pidAlive, run, type CliSandbox } from '@kubenest/testing';

interface State { server: string; apiserver: string; supervisorPid: number }

/**
 * The virtual cluster's front door (issue 10): everything users and plugins send goes through an
 * authenticating proxy in the virtual cluster's own daemon, which forwards as a front proxy.
 */
describe('front door: the authenticating proxy in front of the virtual apiserver', () => {
  let sandbox: CliSandbox;
  let dir: string;
  let kubeconfig: string;
  let caFile: string;
  let state: State;
  let ca: Buffer;
  let admin: { cert: Buffer; key: Buffer };
  const vkubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, ...args]);
  const stateFile = (): string => join(sandbox.vclustersDir, 'demo', 'run', 'state.json');
  /** kubectl with only a bearer token (no client certificate) against the front door. */
  const tokenKubectl = (token: string, ...args: string[]) =>
    run('kubectl', ['--kubeconfig', join(dir, 'empty-kubeconfig'), '--server', state.server, '--certificate-authority', caFile, '--token', token, ...args]);

  before(async () => {
    sandbox = await cliSandbox('kn-frontdoor-');
    dir = sandbox.dir;
    const up = await sandbox.cli('up', '--nodes', '1');
    assert.equal(up.code, 0, up.stderr);
    kubeconfig = join(sandbox.vclustersDir, 'demo', 'kubeconfig');
    state = JSON.parse(readFileSync(stateFile(), 'utf8')) as State;
    const doc = parse(readFileSync(kubeconfig, 'utf8')) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
    };
    ca = Buffer.from(doc.clusters[0]!.cluster['certificate-authority-data'], 'base64');
    admin = { cert: Buffer.from(doc.users[0]!.user['client-certificate-data'], 'base64'), key: Buffer.from(doc.users[0]!.user['client-key-data'], 'base64') };
    caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca);
    writeFileSync(join(dir, 'empty-kubeconfig'), 'apiVersion: v1\nkind: Config\n');
  });
  after(async () => {
    await sandbox?.dispose(['demo']);
  });

  /** A request to the front door with the given credentials, its answer read whole. */
  const call = (path: string, options: RequestOptions = {}, body?: string): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> =>
    new Promise((resolve, reject) => {
      const url = new URL(path, state.server);
      const req = httpsRequest({ host: url.hostname, port: url.port, path: url.pathname + url.search, ca, ...options }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('is what the users\' kubeconfig and the host Secret vc-demo point at, not the apiserver itself', async () => {
    assert.notEqual(state.server, state.apiserver);
    assert.match(state.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    const doc = parse(readFileSync(kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
    assert.equal(doc.clusters[0]!.cluster.server, state.server);
    const secret = await run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-n', 'vcluster-demo', 'get', 'secret', 'vc-demo', '-o', 'jsonpath={.data.config}']);
    assert.equal(secret.code, 0, secret.stderr);
    assert.match(Buffer.from(secret.stdout, 'base64').toString('utf8'), new RegExp(`server: ${state.server}`));
    // What pods reach as kubernetes.default: the host Service's target port.
    const target = await run('kubectl', ['--kubeconfig', join(sandbox.hostDir, 'kubeconfig'), '-n', 'vcluster-demo', 'get', 'service', 'demo', '-o', 'jsonpath={.spec.ports[0].targetPort}']);
    assert.equal(target.stdout, new URL(state.server).port);
  });

  it('kubectl get, apply, apply --server-side and delete work through it, as the certificate\'s user', async () => {
    const whoami = await vkubectl('auth', 'whoami', '-o', 'json');
    assert.equal(whoami.code, 0, whoami.stderr);
    const user = (JSON.parse(whoami.stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    assert.equal(user.username, 'kubenest-admin');
    assert.deepEqual([...user.groups].sort(), ['system:authenticated', 'system:masters']);

    assert.equal((await vkubectl('get', 'namespaces')).code, 0);
    const manifest = join(dir, 'cm.yaml');
    writeFileSync(manifest, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v1\n');
    const applied = await vkubectl('apply', '-f', manifest);
    assert.equal(applied.code, 0, applied.stderr);
    writeFileSync(manifest, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v2\n');
    const ssa = await vkubectl('apply', '--server-side', '--force-conflicts', '-f', manifest);
    assert.equal(ssa.code, 0, ssa.stderr);
    assert.equal((await vkubectl('get', 'configmap', 'applied', '-o', 'jsonpath={.data.k}')).stdout, 'v2');
    const managers = (await vkubectl('get', 'configmap', 'applied', '--show-managed-fields', '-o', 'jsonpath={.metadata.managedFields[*].manager}')).stdout;
    assert.match(managers, /kubectl/);
    // Protobuf passes as it is.
    const proto = await call('/api/v1/namespaces/default/configmaps/applied', { ...admin, headers: { accept: 'application/vnd.kubernetes.protobuf' } });
    assert.equal(proto.status, 200);
    assert.equal(proto.headers['content-type'], 'application/vnd.kubernetes.protobuf');
    assert.ok(proto.body.startsWith('k8s\u0000'), 'the protobuf envelope');
    // A chunked list (limit and continue).
    const list = await vkubectl('get', 'configmaps', '-A', '--chunk-size=1', '-o', 'name');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /configmap\/applied/);
    const removed = await vkubectl('delete', 'configmap', 'applied');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await vkubectl('get', 'configmap', 'applied')).code, 1);
  });

  it('kubectl get -w streams events as they happen', async () => {
    const watcher = spawn('kubectl', ['--kubeconfig', kubeconfig, 'get', 'configmaps', '--watch-only', '-o', 'name'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    watcher.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    try {
      await sleep(2_000); // the watch is open before the object is created
      assert.equal((await vkubectl('create', 'configmap', 'watched-1')).code, 0);
      await eventually(() => assert.match(out, /configmap\/watched-1/), { timeoutMs: 20_000 });
      assert.equal((await vkubectl('create', 'configmap', 'watched-2')).code, 0);
      await eventually(() => assert.match(out, /configmap\/watched-2/), { timeoutMs: 20_000 });
    } finally {
      watcher.kill();
    }
  });

  it('our client\'s informer works through it (adds, updates, deletes)', async () => {
    const kube = new KubeClient(loadKubeconfig(kubeconfig), { qps: Infinity });
    const informer = new Informer(kube.resourceFor<KubeObject & { data?: Record<string, string> }>(CORE['configmaps']!), { namespace: 'default' });
    const seen: string[] = [];
    informer.addHandlers({
      onAdd: (o) => seen.push(`add ${o.metadata?.name}`),
      onUpdate: (_old, o) => seen.push(`update ${o.metadata?.name} ${o.data?.['v']}`),
      onDelete: (o) => seen.push(`delete ${o.metadata?.name}`),
    });
    try {
      informer.start();
      await informer.waitForSync(AbortSignal.timeout(120_000));
      const cms = kube.resourceFor(CORE['configmaps']!);
      await cms.create({ metadata: { name: 'informed', namespace: 'default' }, data: { v: '1' } });
      await cms.patch('informed', 'merge', { data: { v: '2' } }, { namespace: 'default' });
      await cms.delete('informed', { namespace: 'default' });
      await eventually(() => assert.deepEqual(seen.filter((s) => s.includes('informed')), ['add informed', 'update informed 2', 'delete informed']));
    } finally {
      await informer.stop();
      await kube.close();
    }
  });

  it('a virtual service account\'s token works, and the virtual cluster\'s RBAC applies to it (403 for a forbidden verb)', async () => {
    assert.equal((await vkubectl('create', 'serviceaccount', 'robot')).code, 0);
    assert.equal((await vkubectl('create', 'rolebinding', 'robot-view', '--clusterrole=view', '--serviceaccount=default:robot')).code, 0);
    const token = (await vkubectl('create', 'token', 'robot')).stdout.trim();
    assert.ok(token.length > 100, 'a token');
    const whoami = await tokenKubectl(token, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}');
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.equal(whoami.stdout, 'system:serviceaccount:default:robot');
    const get = await tokenKubectl(token, 'get', 'configmaps');
    assert.equal(get.code, 0, get.stderr);
    const create = await tokenKubectl(token, 'create', 'configmap', 'robot-was-here');
    assert.notEqual(create.code, 0);
    assert.match(create.stderr, /forbidden: User "system:serviceaccount:default:robot" cannot create resource "configmaps"/);
    const raw = await call('/api/v1/namespaces/default/secrets', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(raw.status, 403);
    assert.equal((JSON.parse(raw.body) as { reason: string }).reason, 'Forbidden');
  });

  it('refuses with 401 and a Status: no credentials, a garbage token, a client certificate of another CA', async () => {
    const other = await ensurePki(join(dir, 'other-ca'), [{ name: 'admin', commonName: 'kubenest-admin', organizations: ['system:masters'], client: true }]);
    const cases: [string, RequestOptions][] = [
      ['no credentials', {}],
      ['a garbage token', { headers: { authorization: 'Bearer not-a-token' } }],
      ['a client certificate of another CA', { cert: readFileSync(other.cert('admin')), key: readFileSync(other.key('admin')) }],
      ['X-Remote-User sent by the caller itself', { headers: { 'x-remote-user': 'kubenest-admin', 'x-remote-group': 'system:masters' } }],
    ];
    for (const [what, options] of cases) {
      const answer = await call('/api/v1/namespaces', options);
      assert.equal(answer.status, 401, what);
      assert.deepEqual(JSON.parse(answer.body), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }, what);
    }
    const kubectl = await tokenKubectl('garbage', 'get', 'pods');
    assert.match(kubectl.stderr, /Unauthorized/);
    // Identity headers of the caller's own never reach the apiserver: the certificate's user stands.
    const spoofed = await call('/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      method: 'POST', ...admin, headers: { 'content-type': 'application/json', 'x-remote-user': 'mallory', 'x-remote-group': 'evil' },
    }, JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));
    assert.equal(spoofed.status, 201, spoofed.body);
    const userInfo = (JSON.parse(spoofed.body) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    assert.equal(userInfo.username, 'kubenest-admin');
    assert.ok(!userInfo.groups.includes('evil'), userInfo.groups.join(','));
  });

  it('impersonation (kubectl --as) works: the caller\'s rights to impersonate are checked, then the impersonated user\'s', async () => {
    const as = await vkubectl('auth', 'whoami', '--as', 'someone', '--as-group', 'some-group', '-o', 'json');
    assert.equal(as.code, 0, as.stderr);
    const info = (JSON.parse(as.stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    assert.equal(info.username, 'someone');
    assert.ok(info.groups.includes('some-group'), info.groups.join(','));
    const denied = await vkubectl('get', 'configmaps', '--as', 'someone');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /User "someone" cannot list resource "configmaps"/);
    const asRobot = await vkubectl('get', 'configmaps', '--as', 'system:serviceaccount:default:robot');
    assert.equal(asRobot.code, 0, asRobot.stderr);
    // A service account may not impersonate: 403 from the apiserver.
    const token = (await vkubectl('create', 'token', 'robot')).stdout.trim();
    const escalate = await tokenKubectl(token, 'get', 'configmaps', '--as', 'kubenest-admin');
    assert.notEqual(escalate.code, 0);
    assert.match(escalate.stderr, /Forbidden.*User "system:serviceaccount:default:robot" cannot impersonate/);
  });

  it('a malformed path or a huge header gets a Status error, and it keeps serving', async () => {
    const raw = (text: string): Promise<string> => new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: Number(new URL(state.server).port), ca, cert: admin.cert, key: admin.key });
      let answer = '';
      socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1'); });
      socket.on('end', () => resolve(answer));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
      socket.on('secureConnect', () => socket.write(text));
    });
    const badEscape = await raw('GET /api/v1/namespaces/%zz/pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(badEscape, /^HTTP\/1\.1 400 /);
    assert.match(badEscape, /"kind":"Status".*invalid percent-encoding/);
    const notAPath = await raw('GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(notAPath, /^HTTP\/1\.1 400 .*"kind":"Status"/s);
    const huge = await raw(`GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nX-Huge: ${'a'.repeat(200_000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    assert.match(huge, /"kind":"Status".*request headers larger than 64 KiB/);
    const garbage = await raw('\x16\x03not http at all\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 .*"kind":"Status"/s);
    const after = await call('/api/v1/namespaces', admin);
    assert.equal(after.status, 200);
  });

  it('passes an upgrade through both ways: a watch over WebSocket (101), with a certificate or a subprotocol token', async () => {
    // The apiserver serves a watch over WebSocket to a caller that sends an Origin (x/net/websocket's check).
    const websocketWatch = (credentials: RequestOptions, protocol?: string): Promise<{ status: number; frames: () => string; socket?: Duplex }> =>
      new Promise((resolve, reject) => {
        const url = new URL(state.server);
        const req = httpsRequest({
          host: url.hostname, port: url.port, ca, ...credentials, path: '/api/v1/namespaces/default/configmaps?watch=true',
          headers: {
            connection: 'Upgrade', upgrade: 'websocket', origin: state.server, 'sec-websocket-version': '13',
            'sec-websocket-key': Buffer.from('kubenest-frontdr').toString('base64'), ...(protocol ? { 'sec-websocket-protocol': protocol } : {}),
          },
        });
        req.on('upgrade', (res, socket) => {
          let seen = '';
          socket.on('data', (chunk: Buffer) => { seen += chunk.toString('latin1'); });
          resolve({ status: res.statusCode ?? 0, frames: () => seen, socket });
        });
        req.on('response', (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, frames: () => '' });
        });
        req.on('error', reject);
        req.end();
      });
    const ws = await websocketWatch(admin);
    assert.equal(ws.status, 101);
    assert.equal((await vkubectl('create', 'configmap', 'over-websocket')).code, 0);
    await eventually(() => assert.match(ws.frames(), /"type":"ADDED","object":\{"kind":"ConfigMap".*"name":"over-websocket"/), { timeoutMs: 20_000 });
    // The other way: a close frame from the caller (masked, empty) reaches the apiserver, which ends the watch.
    let closed = false;
    ws.socket!.once('close', () => { closed = true; });
    ws.socket!.write(Buffer.from([0x88, 0x80, 1, 2, 3, 4]));
    await eventually(() => assert.ok(closed, 'the apiserver closed the stream after the close frame'), { timeoutMs: 20_000 });

    assert.equal((await websocketWatch({})).status, 401, 'an upgrade without credentials is refused');
    // A browser's WebSocket brings its token as a subprotocol.
    const token = (await vkubectl('create', 'token', 'robot')).stdout.trim();
    const withToken = await websocketWatch({}, `base64url.bearer.authorization.k8s.io.${Buffer.from(token).toString('base64url')}`);
    assert.equal(withToken.status, 101);
    withToken.socket?.destroy();
    assert.equal((await websocketWatch({}, 'base64url.bearer.authorization.k8s.io.Z2FyYmFnZQ')).status, 401);
  });

  it('the daemon killed under a watch is started again by its keeper, and the informer resumes with no event lost', async () => {
    const kube = new KubeClient(loadKubeconfig(kubeconfig), { qps: Infinity });
    const cms = kube.resourceFor(CORE['configmaps']!);
    assert.equal((await vkubectl('create', 'namespace', 'restart')).code, 0);
    const informer = new Informer(cms, { namespace: 'restart', backoff: { initialMs: 100, maxMs: 1_000 } });
    const added = new Set<string>();
    informer.addHandlers({ onAdd: (o) => added.add(o.metadata!.name!) });
    const created: string[] = [];
    try {
      informer.start();
      await informer.waitForSync(AbortSignal.timeout(120_000));
      const killed = state.supervisorPid;
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          const name = `cm-${i}`;
          for (;;) {
            try {
              await cms.create({ metadata: { name, namespace: 'restart' } });
              created.push(name);
              break;
            } catch (error) {
              if (/already exists/.test((error as Error).message)) {
                created.push(name);
                break;
              }
              await sleep(200); // the front door or the apiserver is down: try again
            }
          }
        }
      })();
      await eventually(() => assert.ok(created.length >= 5), { timeoutMs: 30_000 });
      killProcess(killed, 'SIGKILL');
      await eventually(() => {
        const now = JSON.parse(readFileSync(stateFile(), 'utf8')) as State;
        assert.ok(now.supervisorPid !== killed && pidAlive(now.supervisorPid), 'a new supervisor');
        assert.equal(now.server, state.server, 'the front door keeps its port');
      }, { timeoutMs: 180_000, intervalMs: 500 });
      const before = created.length;
      await eventually(() => assert.ok(created.length >= before + 5), { timeoutMs: 60_000 });
      writing = false;
      await writer;
      await eventually(() => assert.deepEqual(created.filter((name) => !added.has(name)), []), { timeoutMs: 60_000 });
      assert.ok(created.length >= 10);
    } finally {
      await informer.stop();
      await kube.close();
    }
  });
});
