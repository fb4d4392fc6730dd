import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ExecCredentialError, ExecCredentialProvider } from './exec-credential.ts';
import type { ExecConfig } from './exec-credential.ts';
import { KubeconfigError, restConfigFromKubeconfig } from './kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'kn-exec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const V1 = 'client.authentication.k8s.io/v1';

// A fake credential plugin, run as `node plugin.mjs ...`; PLUGIN_* variables choose what it does.
const plugin = join(dir, 'plugin.mjs');
writeFileSync(plugin, `
import { appendFileSync, readFileSync } from 'node:fs';
const env = process.env;
let run = 1;
if (env.PLUGIN_LOG) {
  appendFileSync(env.PLUGIN_LOG, 'run\\n');
  run = readFileSync(env.PLUGIN_LOG, 'utf8').split('\\n').filter(Boolean).length;
}
const print = (status, extra = {}) => process.stdout.write(JSON.stringify({ apiVersion: env.PLUGIN_API_VERSION ?? '${V1}', kind: 'ExecCredential', status, ...extra }));
setTimeout(() => {
  switch (env.PLUGIN_MODE ?? 'token') {
    case 'token': print({ token: 'tok-' + run, expirationTimestamp: env.PLUGIN_EXPIRES }); break;
    case 'report': print({ token: JSON.stringify({ info: JSON.parse(env.KUBERNETES_EXEC_INFO), args: process.argv.slice(2), extra: env.EXTRA, base: env.BASE }) }); break;
    case 'pid': print({ token: 'pid-' + process.pid }); break;
    case 'cert': print({ clientCertificateData: 'CERT-PEM', clientKeyData: 'KEY-PEM' }); break;
    case 'fail':
      for (let i = 1; i <= 15; i++) process.stderr.write('noise line ' + i + '\\n');
      process.stderr.write('error: refresh token expired, run login again\\n');
      process.exit(3);
      break;
    case 'notjson': process.stdout.write('secret-looking-text'); break;
    case 'empty': break;
    case 'wrongkind': process.stdout.write(JSON.stringify({ apiVersion: '${V1}', kind: 'Status', status: { token: 'x' } })); break;
    case 'nostatus': process.stdout.write(JSON.stringify({ apiVersion: '${V1}', kind: 'ExecCredential' })); break;
    case 'halfcert': print({ clientCertificateData: 'CERT-PEM' }); break;
    case 'badexpiry': print({ token: 'x', expirationTimestamp: 'tomorrow' }); break;
    case 'hang': setTimeout(() => {}, 60_000); break;
  }
}, Number(env.PLUGIN_DELAY_MS ?? 0));
`);

let logCount = 0;
function newLog(): string {
  return join(dir, `runs-${++logCount}.log`);
}
function runs(log: string): number {
  try {
    return readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}
function execConfig(env: Record<string, string>, extra: Partial<ExecConfig> = {}): ExecConfig {
  return {
    apiVersion: V1,
    command: process.execPath,
    args: [plugin],
    env: Object.entries(env).map(([name, value]) => ({ name, value })),
    interactiveMode: 'Never',
    ...extra,
  };
}

describe('ExecCredentialProvider', () => {
  it('runs the plugin without a shell, with args, env merged over the base env and KUBERNETES_EXEC_INFO', async () => {
    const provider = new ExecCredentialProvider(
      execConfig({ PLUGIN_MODE: 'report', EXTRA: 'from-kubeconfig' }, { args: [plugin, '--flag', 'a b; echo no-shell'] }),
      { env: { BASE: 'base-env', EXTRA: 'overridden' } },
    );
    const report = JSON.parse((await provider.token())!) as { info: unknown; args: string[]; extra: string; base: string };
    assert.deepEqual(report.args, ['--flag', 'a b; echo no-shell']);
    assert.equal(report.extra, 'from-kubeconfig');
    assert.equal(report.base, 'base-env');
    assert.deepEqual(report.info, { apiVersion: V1, kind: 'ExecCredential', spec: { interactive: false } });
  });

  it('describes the cluster in KUBERNETES_EXEC_INFO when provideClusterInfo is set', async () => {
    const provider = new ExecCredentialProvider(
      execConfig({ PLUGIN_MODE: 'report' }, { apiVersion: 'client.authentication.k8s.io/v1beta1', provideClusterInfo: true }),
      {
        cluster: { server: 'https://127.0.0.1:6443', caData: Buffer.from('CA-PEM'), tlsServerName: 'kubernetes', config: { audience: 'x' } },
        env: { PLUGIN_API_VERSION: 'client.authentication.k8s.io/v1beta1' },
      },
    );
    const report = JSON.parse((await provider.token())!) as { info: unknown };
    assert.deepEqual(report.info, {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: {
          server: 'https://127.0.0.1:6443',
          'tls-server-name': 'kubernetes',
          'certificate-authority-data': Buffer.from('CA-PEM').toString('base64'),
          config: { audience: 'x' },
        },
      },
    });
  });

  it('caches the token until 10 s before expirationTimestamp', async () => {
    const expires = Date.parse('2030-01-01T00:00:00Z');
    let now = expires - 3_600_000;
    const log = newLog();
    const provider = new ExecCredentialProvider(
      execConfig({ PLUGIN_LOG: log, PLUGIN_EXPIRES: '2030-01-01T00:00:00Z' }),
      { now: () => now },
    );
    assert.equal(await provider.token(), 'tok-1');
    now = expires - 10_001;
    assert.equal(await provider.token(), 'tok-1');
    assert.equal(runs(log), 1);
    now = expires - 10_000;
    assert.equal(await provider.token(), 'tok-2');
    assert.equal(runs(log), 2);
  });

  it('keeps a token without expiry until invalidate(), then runs the plugin again', async () => {
    let now = 0;
    const log = newLog();
    const provider = new ExecCredentialProvider(execConfig({ PLUGIN_LOG: log }), { now: () => now });
    assert.equal(await provider.token(), 'tok-1');
    now += 365 * 86_400_000;
    assert.equal(await provider.token(), 'tok-1');
    provider.invalidate();
    assert.equal(await provider.token(), 'tok-2');
    assert.equal(await provider.token(), 'tok-2');
    assert.equal(runs(log), 2);
  });

  it('shares one run among concurrent callers', async () => {
    const log = newLog();
    const provider = new ExecCredentialProvider(execConfig({ PLUGIN_LOG: log, PLUGIN_DELAY_MS: '150' }));
    const tokens = await Promise.all([provider.token(), provider.token(), provider.certificate(), provider.token()]);
    assert.deepEqual(tokens, ['tok-1', 'tok-1', undefined, 'tok-1']);
    assert.equal(runs(log), 1);
  });

  it('does not keep a credential from a run that started before invalidate()', async () => {
    const log = newLog();
    const provider = new ExecCredentialProvider(execConfig({ PLUGIN_LOG: log, PLUGIN_MODE: 'pid', PLUGIN_DELAY_MS: '100' }));
    const first = provider.token();
    provider.invalidate();
    const second = provider.token();
    const [a, b] = await Promise.all([first, second]);
    assert.notEqual(a, b);
    assert.equal(await provider.token(), b);
    assert.equal(runs(log), 2);
  });

  it('hands out a client certificate the plugin printed', async () => {
    const provider = new ExecCredentialProvider(execConfig({ PLUGIN_MODE: 'cert' }));
    assert.deepEqual(await provider.certificate(), { cert: 'CERT-PEM', key: 'KEY-PEM' });
    assert.equal(await provider.token(), undefined);
  });

  it('names a missing command and gives the installHint', async () => {
    const hinted = new ExecCredentialProvider({ apiVersion: V1, command: 'kubenest-no-such-plugin', installHint: 'Install it with: go install example.com/plugin@latest\n' }, { source: 'user "alice" in /k/config' });
    await assert.rejects(hinted.token(), (error: Error) => error instanceof ExecCredentialError
      && error.message === 'exec plugin "kubenest-no-such-plugin" for user "alice" in /k/config: command not found (kubenest-no-such-plugin). Install it with: go install example.com/plugin@latest');
    const plain = new ExecCredentialProvider({ apiVersion: V1, command: 'kubenest-no-such-plugin' });
    await assert.rejects(plain.token(), /command not found \(kubenest-no-such-plugin\)\. install the plugin, put it on PATH, or fix users\[\]\.user\.exec\.command/);
  });

  it('reports a non-zero exit with the last lines of stderr', async () => {
    const provider = new ExecCredentialProvider(execConfig({ PLUGIN_MODE: 'fail' }));
    await assert.rejects(provider.token(), (error: Error) => {
      assert.match(error.message, /exited with code 3; stderr ends with:\n/);
      assert.match(error.message, /noise line 15\nerror: refresh token expired, run login again$/);
      assert.doesNotMatch(error.message, /noise line 5\n/);
      return true;
    });
  });

  it('kills a plugin that runs past the timeout', async () => {
    const provider = new ExecCredentialProvider(execConfig({ PLUGIN_MODE: 'hang' }), { timeoutMs: 300 });
    await assert.rejects(provider.token(), /did not finish within 0\.3 s and was killed/);
  });

  it('says what is wrong with malformed output, without echoing it', async () => {
    const cases: [string, RegExp][] = [
      ['notjson', /malformed output: stdout is not JSON \(19 bytes\)/],
      ['empty', /malformed output: stdout is empty/],
      ['wrongkind', /malformed output: kind is "Status", expected "ExecCredential"/],
      ['nostatus', /malformed output: status is missing/],
      ['halfcert', /malformed output: status has clientCertificateData but no clientKeyData/],
      ['badexpiry', /malformed output: status.expirationTimestamp "tomorrow" is not an RFC 3339 time/],
    ];
    for (const [mode, expected] of cases) {
      const provider = new ExecCredentialProvider(execConfig({ PLUGIN_MODE: mode }));
      await assert.rejects(provider.token(), (error: Error) => {
        assert.match(error.message, expected, mode);
        assert.doesNotMatch(error.message, /secret-looking-text/);
        return true;
      });
    }
    const mismatched = new ExecCredentialProvider(execConfig({ PLUGIN_API_VERSION: 'client.authentication.k8s.io/v1beta1' }));
    await assert.rejects(mismatched.token(), /apiVersion is "client\.authentication\.k8s\.io\/v1beta1", but exec\.apiVersion in the kubeconfig is "client\.authentication\.k8s\.io\/v1"/);
  });

  it('runs again after a failed run', async () => {
    const log = newLog();
    const provider = new ExecCredentialProvider(execConfig({ PLUGIN_LOG: log, PLUGIN_MODE: 'fail' }));
    await assert.rejects(provider.token(), /exited with code 3/);
    await assert.rejects(provider.token(), /exited with code 3/);
    assert.equal(runs(log), 2);
  });

  it('refuses interactiveMode Always and other bad exec sections', () => {
    assert.throws(() => new ExecCredentialProvider(execConfig({}, { interactiveMode: 'Always' }), { source: 'user "bob"' }),
      (error: Error) => error instanceof ExecCredentialError && /^user "bob": exec\.interactiveMode is "Always", but kubenest runs credential plugins without a terminal/.test(error.message));
    assert.throws(() => new ExecCredentialProvider(execConfig({}, { interactiveMode: 'Sometimes' })), /exec\.interactiveMode "Sometimes" is not one of Never, IfAvailable, Always/);
    assert.throws(() => new ExecCredentialProvider(execConfig({}, { apiVersion: 'client.authentication.k8s.io/v1alpha1' })), /exec\.apiVersion "client\.authentication\.k8s\.io\/v1alpha1" is not supported/);
    assert.throws(() => new ExecCredentialProvider(execConfig({}, { command: '' })), /exec\.command is missing/);
    assert.throws(() => new ExecCredentialProvider({ apiVersion: V1, command: 'x', env: [{ name: 'A' }] } as unknown as ExecConfig), /exec\.env\[0\] must have a string name and a string value/);
    assert.throws(() => new ExecCredentialProvider(execConfig({}, { provideClusterInfo: true })), /provideClusterInfo is true, but no cluster was given/);
  });
});

describe('exec users in a kubeconfig', () => {
  const kcDir = join(dir, 'kc');
  mkdirSync(join(kcDir, 'bin'), { recursive: true });
  const script = join(kcDir, 'bin', 'plugin.sh');
  writeFileSync(script, `#!/bin/sh\nprintf '%s' "$KUBERNETES_EXEC_INFO" > "$INFO_OUT"\necho '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"from-sh"}}'\n`);
  chmodSync(script, 0o755);
  const file = join(kcDir, 'config');
  const infoOut = join(kcDir, 'info.json');
  const doc = (exec: Record<string, unknown>): unknown => ({
    'current-context': 'x',
    clusters: [{
      name: 'c',
      cluster: {
        server: 'https://127.0.0.1:6443',
        'certificate-authority-data': Buffer.from('CA').toString('base64'),
        extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { region: 'local' } }],
      },
    }],
    users: [{ name: 'alice', user: { token: 'static', exec } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'alice' } }],
  });

  it('gives a token provider instead of a static token, resolving ./ commands against the kubeconfig directory', async () => {
    const config = restConfigFromKubeconfig(doc({
      apiVersion: V1, command: './bin/plugin.sh', env: [{ name: 'INFO_OUT', value: infoOut }], provideClusterInfo: true, interactiveMode: 'IfAvailable',
    }), file);
    assert.equal(config.token, undefined);
    assert.ok(config.tokenProvider instanceof ExecCredentialProvider);
    assert.equal(await config.tokenProvider.token(), 'from-sh');
    assert.deepEqual(JSON.parse(readFileSync(infoOut, 'utf8')), {
      apiVersion: V1,
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': Buffer.from('CA').toString('base64'), config: { region: 'local' } },
      },
    });
  });

  it('turns a bad exec section into a KubeconfigError naming the file and the user', () => {
    assert.throws(() => restConfigFromKubeconfig(doc({ apiVersion: V1, command: 'x', interactiveMode: 'Always' }), file),
      (error: Error) => error instanceof KubeconfigError && error.message.startsWith(`${file}: user "alice": exec.interactiveMode is "Always"`));
    assert.throws(() => restConfigFromKubeconfig(doc({ command: 'x' }), file),
      (error: Error) => error instanceof KubeconfigError && error.message.startsWith(`${file}: user "alice": exec.apiVersion is missing; set it to client.authentication.k8s.io/v1 or`));
  });
});
