// `image:` plugins pulled from a real OCI registry (the CNCF distribution registry, built from Go
// modules) on 127.0.0.1, with images pushed by crane: Docker v2 and OCI media types, a multi-arch
// index, whiteouts across layers, Basic and Bearer auth, a proxy that corrupts blobs, and the
// registry going down.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PluginImageError, resolvePluginImage, type PluginImageErrorReason } from '@kubenest/kubenest';
import { crane, pushPluginImage, startTestRegistry, tempDir, type TestRegistry } from '@kubenest/testing';

const AMD64 = { os: 'linux', architecture: 'amd64' };

/** Writes `files` (path -> content, or [content, mode]) under `dir` and packs them into `tar`. */
function layerTar(root: string, name: string, files: Record<string, string | [string, number]>): string {
  const dir = join(root, 'layers', name);
  for (const [path, spec] of Object.entries(files)) {
    const [content, mode] = typeof spec === 'string' ? [spec, 0o644] : spec;
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
    chmodSync(join(dir, path), mode);
  }
  const tar = join(root, 'layers', `${name}.tar`);
  const made = spawnSync('tar', ['-C', dir, '--owner=0', '--group=0', '-cf', tar, ...readdirSync(dir)], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  return tar;
}

const script = (text: string): [string, number] => [`#!/bin/sh\necho ${text}\n`, 0o755];

function runPlugin(executable: string): string {
  const ran = spawnSync(executable, { encoding: 'utf8', timeout: 10_000 });
  assert.equal(ran.status, 0, ran.stderr);
  return ran.stdout.trim();
}

async function refused(promise: Promise<unknown>, reason: PluginImageErrorReason, plugin: string, image: string, detail: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof PluginImageError, String(error));
    assert.equal(error.reason, reason, error.message);
    assert.ok(error.message.startsWith(`plugin "${plugin}" (image "${image}"): `), error.message);
    assert.match(error.message, detail);
    return true;
  });
}

/**
 * An HTTP front for a registry that demands a Bearer token (issued by its own /token for
 * alice:secret, or refused), or corrupts blob bodies: the auth flow and digest checks of a
 * registry we do not control.
 */
class RegistryFront {
  url = '';
  tokenRequests: Record<string, string | null | undefined>[] = [];
  /** Sends blob requests to a second server (another origin), as registries send them to object storage. */
  redirectBlobs = false;
  /** The Authorization header each redirected blob request carried to the second server. */
  storeAuthorizations: (string | undefined)[] = [];
  private storeUrl = '';
  private readonly store = createServer((req, res) => { void this.serveStore(req, res); });
  corruptBlobs = false;
  /** Answers this many blob requests with 503 before serving them. */
  failBlobs = 0;
  /** Appends a space to manifests: still JSON, another digest. */
  alterManifests = false;
  requireBearer = true;
  private readonly server = createServer((req, res) => { void this.handle(req, res); });
  private readonly upstream: string;
  constructor(upstream: string) {
    this.upstream = upstream;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `127.0.0.1:${(this.server.address() as { port: number }).port}`;
    await new Promise<void>((resolve) => this.store.listen(0, '127.0.0.1', resolve));
    this.storeUrl = `http://127.0.0.1:${(this.store.address() as { port: number }).port}`;
  }

  async close(): Promise<void> {
    for (const server of [this.server, this.store]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private async serveStore(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.storeAuthorizations.push(req.headers.authorization);
    const upstream = await fetch(`http://${this.upstream}${req.url ?? '/'}`);
    res.writeHead(upstream.status).end(Buffer.from(await upstream.arrayBuffer()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${this.url}`);
    if (url.pathname === '/token' && req.method === 'POST') {
      // OAuth2 refresh-token grant, as for an identitytoken from the docker config file.
      let body = '';
      for await (const chunk of req) body += String(chunk);
      const form = new URLSearchParams(body);
      this.tokenRequests.push({ grant: form.get('grant_type'), refreshToken: form.get('refresh_token'), scope: form.get('scope'), service: form.get('service') });
      if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== 'refresh-me') {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `granted:${form.get('scope')}` }));
      return;
    }
    if (url.pathname === '/token') {
      this.tokenRequests.push({ scope: url.searchParams.get('scope'), service: url.searchParams.get('service'), authorization: req.headers.authorization });
      if (req.headers.authorization !== `Basic ${Buffer.from('alice:secret').toString('base64')}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `granted:${url.searchParams.get('scope')}` }));
      return;
    }
    if (this.requireBearer && !req.headers.authorization?.startsWith('Bearer granted:repository:')) {
      const repo = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url.pathname)?.[1];
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${this.url}/token",service="kubenest-test"${repo ? `,scope="repository:${repo}:pull"` : ''}`,
        'content-type': 'application/json',
      }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (this.failBlobs > 0 && url.pathname.includes('/blobs/')) {
      this.failBlobs -= 1;
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}');
      return;
    }
    if (this.redirectBlobs && url.pathname.includes('/blobs/')) {
      res.writeHead(307, { location: `${this.storeUrl}${url.pathname}` }).end();
      return;
    }
    const upstream = await fetch(`http://${this.upstream}${url.pathname}`, { headers: { accept: req.headers.accept ?? '*/*' } });
    let body = Buffer.from(await upstream.arrayBuffer());
    if (this.corruptBlobs && url.pathname.includes('/blobs/') && body.length > 0) {
      body = Buffer.from(body);
      body[body.length >> 1] = (body[body.length >> 1] ?? 0) ^ 0xff;
    }
    if (this.alterManifests && url.pathname.includes('/manifests/')) body = Buffer.concat([body, Buffer.from(' ')]);
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'docker-content-digest']) {
      const value = upstream.headers.get(name);
      if (value) headers[name] = value;
    }
    res.writeHead(upstream.status, headers).end(body);
  }
}

describe('plugin images from an OCI registry on loopback', () => {
  const root = tempDir('kn-oci-');
  let open: TestRegistry;
  let locked: TestRegistry;
  let front: RegistryFront;
  const digests: Record<string, string> = {};
  const credentials = join(root.path, 'docker');
  const wrongCredentials = join(root.path, 'docker-wrong');
  let caches = 0;
  const cache = (): string => join(root.path, `cache-${caches++}`);

  before(async () => {
    open = await startTestRegistry({ dir: join(root.path, 'open') });
    locked = await startTestRegistry({ dir: join(root.path, 'locked'), user: { name: 'alice', password: 'secret' } });
    front = new RegistryFront(open.host);
    await front.start();
    const auth = (password: string): string => Buffer.from(`alice:${password}`).toString('base64');
    mkdirSync(credentials, { recursive: true });
    mkdirSync(wrongCredentials, { recursive: true });
    writeFileSync(join(credentials, 'config.json'), JSON.stringify({ auths: { [locked.host]: { auth: auth('secret') }, [`http://${front.url}/v1/`]: { username: 'alice', password: 'secret' } } }));
    writeFileSync(join(wrongCredentials, 'config.json'), JSON.stringify({ auths: { [locked.host]: { auth: auth('wrong') } } }));

    const base = layerTar(root.path, 'base', { 'plugin/plugin': script('kubenest-test-plugin v1'), 'plugin/old.txt': 'old', 'plugin/lib/a.txt': 'a', 'bin/tool': 'x' });
    // The second layer deletes old.txt by whiteout and makes lib/ opaque (a.txt goes, b.txt comes).
    const update = layerTar(root.path, 'update', {
      'plugin/plugin': script('kubenest-test-plugin v2'), 'plugin/.wh.old.txt': '', 'plugin/lib/.wh..wh..opq': '', 'plugin/lib/b.txt': 'b',
    });
    const arm = layerTar(root.path, 'arm', { 'plugin/plugin': script('kubenest-test-plugin arm64') });
    const none = layerTar(root.path, 'none', { 'bin/tool': script('not a plugin') });
    const notExecutable = layerTar(root.path, 'not-executable', { 'plugin/plugin': ['#!/bin/sh\n', 0o644] });
    // /plugin/plugin as a symlink to the machine's /bin/sh: extracting it would run a file outside the image.
    mkdirSync(join(root.path, 'layers', 'escape', 'plugin'), { recursive: true });
    symlinkSync('/bin/sh', join(root.path, 'layers', 'escape', 'plugin', 'plugin'));
    const escape = layerTar(root.path, 'escape', {});

    const o = open.host;
    await crane(['append', '-f', base, '-f', update, '-t', `${o}/plugins/docker:v1`]);
    await crane(['append', '--oci-empty-base', '-f', base, '-f', update, '-t', `${o}/plugins/multi:amd64`]);
    await crane(['mutate', '--set-platform', 'linux/amd64', '-t', `${o}/plugins/multi:amd64`, `${o}/plugins/multi:amd64`]);
    await crane(['append', '--oci-empty-base', '-f', base, '-f', arm, '-t', `${o}/plugins/multi:arm64`]);
    await crane(['mutate', '--set-platform', 'linux/arm64', '-t', `${o}/plugins/multi:arm64`, `${o}/plugins/multi:arm64`]);
    // arm64 first: the index's order must not be what picks the image.
    await crane(['index', 'append', '-m', `${o}/plugins/multi:arm64`, '-m', `${o}/plugins/multi:amd64`, '-t', `${o}/plugins/multi:v1`]);
    await crane(['append', '-f', none, '-t', `${o}/plugins/none:v1`]);
    await crane(['append', '-f', notExecutable, '-t', `${o}/plugins/not-executable:v1`]);
    await crane(['append', '-f', escape, '-t', `${o}/plugins/escape:v1`]);
    await crane(['append', '-f', base, '-f', update, '-t', `${locked.host}/private/plugin:v1`], { dockerConfigDir: credentials });
    for (const ref of ['plugins/docker:v1', 'plugins/multi:amd64', 'plugins/multi:v1']) digests[ref] = await crane(['digest', `${o}/${ref}`]);
  });

  after(async () => {
    await front?.close();
    await open?.stop();
    await locked?.stop();
    root.remove();
  });

  it('pulls a Docker v2 image: layers applied in order with whiteouts, /plugin/plugin executable and right', async () => {
    const image = `${open.host}/plugins/docker:v1`;
    const lines: string[] = [];
    const cacheDir = cache();
    const pulled = await resolvePluginImage('hooks', image, { cacheDir, progress: (line) => lines.push(line) });
    assert.equal(pulled.source, 'pulled');
    assert.equal(pulled.digest, digests['plugins/docker:v1']);
    assert.equal(pulled.dir, join(cacheDir, pulled.digest.replace(':', '-'), 'plugin'));
    assert.equal(pulled.executable, join(pulled.dir, 'plugin'));
    assert.equal(runPlugin(pulled.executable), 'kubenest-test-plugin v2');
    assert.deepEqual(readdirSync(pulled.dir).sort(), ['lib', 'plugin'], 'old.txt was whited out; nothing outside /plugin was extracted');
    assert.deepEqual(readdirSync(join(pulled.dir, 'lib')), ['b.txt'], 'the opaque lib/ hides a.txt of the lower layer');
    assert.ok(lines.some((line) => line.startsWith('plugin hooks: layer 2/2 sha256:') && line.includes('verified and applied')), lines.join('\n'));

    const again = await resolvePluginImage('hooks', image, { cacheDir });
    assert.equal(again.source, 'cache');
    assert.equal(again.executable, pulled.executable);
  });

  it('pulls a one-layer image made by pushPluginImage (the helper plugin tests use), with its extra files', async () => {
    const executable = join(root.path, 'single-plugin');
    writeFileSync(executable, '#!/bin/sh\necho single $(cat "$(dirname "$0")/config/name")\n', { mode: 0o755 });
    const image = `${open.host}/plugins/single:v1`;
    const digest = await pushPluginImage(image, executable, { files: { 'config/name': 'from-the-image' }, platform: 'linux/amd64', oci: true });
    const pulled = await resolvePluginImage('single', image, { cacheDir: cache() });
    assert.equal(pulled.digest, digest);
    assert.equal(runPlugin(pulled.executable), 'single from-the-image');
  });

  it('takes linux/amd64 from a multi-arch OCI index, by tag and by the index digest', async () => {
    const cacheDir = cache();
    const byTag = await resolvePluginImage('multi', `${open.host}/plugins/multi:v1`, { cacheDir, platform: AMD64 });
    assert.equal(byTag.digest, digests['plugins/multi:amd64'], 'the amd64 manifest is the cache key, not the index');
    assert.equal(runPlugin(byTag.executable), 'kubenest-test-plugin v2');
    const indexDigest = digests['plugins/multi:v1'];
    assert.notEqual(indexDigest, byTag.digest);
    const byDigest = await resolvePluginImage('multi', `${open.host}/plugins/multi@${indexDigest}`, { cacheDir: cache(), platform: AMD64 });
    assert.equal(byDigest.digest, byTag.digest);
    assert.equal(byDigest.source, 'pulled');
    const arm = await resolvePluginImage('multi', `${open.host}/plugins/multi:v1`, { cacheDir, platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(readFileSync(arm.executable, 'utf8'), '#!/bin/sh\necho kubenest-test-plugin arm64\n');
    await refused(resolvePluginImage('multi', `${open.host}/plugins/multi:v1`, { cacheDir, platform: { os: 'linux', architecture: 's390x' } }),
      'invalid-image', 'multi', `${open.host}/plugins/multi:v1`, /no linux\/s390x image \(it offers linux\/arm64, linux\/amd64\)/);
  });

  it('uses credentials from the docker config file for a registry with htpasswd auth, and says so when they are missing or wrong', async () => {
    const image = `${locked.host}/private/plugin:v1`;
    const pulled = await resolvePluginImage('private', image, { cacheDir: cache(), dockerConfig: join(credentials, 'config.json') });
    assert.equal(runPlugin(pulled.executable), 'kubenest-test-plugin v2');
    await refused(resolvePluginImage('private', image, { cacheDir: cache(), dockerConfig: join(root.path, 'no-such', 'config.json') }),
      'auth', 'private', image, new RegExp(`asks for a user name and password; .*no-such/config.json holds no credentials for ${locked.host.replace(/\./g, '\\.')}`));
    await refused(resolvePluginImage('private', image, { cacheDir: cache(), dockerConfig: join(wrongCredentials, 'config.json') }),
      'auth', 'private', image, /refused access \(HTTP 401.*\(credentials from auths\["127\.0\.0\.1:\d+"\] in .*docker-wrong\/config\.json\)/);
  });

  it('asks a credential helper (credsStore) when the registry wants credentials', async () => {
    const image = `${locked.host}/private/plugin:v1`;
    const bin = join(root.path, 'helper-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'docker-credential-kntest'), `#!/bin/sh
read server
echo "$server" >> "${join(root.path, 'helper-asked')}"
[ "$server" = "${locked.host}" ] && echo '{"Username":"alice","Secret":"secret"}' && exit 0
echo 'credentials not found in native keychain'; exit 1
`, { mode: 0o755 });
    const store = join(root.path, 'docker-store');
    mkdirSync(store, { recursive: true });
    writeFileSync(join(store, 'config.json'), JSON.stringify({ credsStore: 'kntest' }));
    const path = process.env['PATH'];
    process.env['PATH'] = `${bin}:${path ?? ''}`;
    try {
      const pulled = await resolvePluginImage('helped', image, { cacheDir: cache(), dockerConfig: join(store, 'config.json') });
      assert.equal(runPlugin(pulled.executable), 'kubenest-test-plugin v2');
      // An open registry never asks: the helper is not run for it.
      await resolvePluginImage('helped', `${open.host}/plugins/docker:v1`, { cacheDir: cache(), dockerConfig: join(store, 'config.json') });
    } finally {
      process.env['PATH'] = path;
    }
    assert.equal(readFileSync(join(root.path, 'helper-asked'), 'utf8'), `${locked.host}\n`);
  });

  it('answers a Bearer challenge through the token service, with credentials or anonymously', async () => {
    front.requireBearer = true;
    const image = `${front.url}/plugins/docker:v1`;
    front.tokenRequests = [];
    const pulled = await resolvePluginImage('bearer', image, { cacheDir: cache(), dockerConfig: join(credentials, 'config.json') });
    assert.equal(runPlugin(pulled.executable), 'kubenest-test-plugin v2');
    assert.deepEqual(front.tokenRequests[0], { scope: 'repository:plugins/docker:pull', service: 'kubenest-test', authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` });
    front.tokenRequests = [];
    await refused(resolvePluginImage('bearer', image, { cacheDir: cache(), dockerConfig: join(root.path, 'none.json') }),
      'auth', 'bearer', image, /token service http:\/\/127\.0\.0\.1:\d+\/token refused anonymous access \(HTTP 401: UNAUTHORIZED bad credentials\)/);
    assert.equal(front.tokenRequests[0]?.['authorization'], undefined, 'anonymous: no Authorization to the token service');
  });

  it('trades an identity token for a Bearer token, and follows blob redirects to another host without the token', async () => {
    front.requireBearer = true;
    front.redirectBlobs = true;
    front.tokenRequests = [];
    front.storeAuthorizations = [];
    const image = `${front.url}/plugins/docker:v1`;
    const identity = join(root.path, 'docker-identity');
    mkdirSync(identity, { recursive: true });
    writeFileSync(join(identity, 'config.json'), JSON.stringify({ auths: { [front.url]: { identitytoken: 'refresh-me' } } }));
    try {
      const pulled = await resolvePluginImage('identity', image, { cacheDir: cache(), dockerConfig: join(identity, 'config.json') });
      assert.equal(runPlugin(pulled.executable), 'kubenest-test-plugin v2');
    } finally {
      front.redirectBlobs = false;
    }
    assert.deepEqual(front.tokenRequests[0], { grant: 'refresh_token', refreshToken: 'refresh-me', scope: 'repository:plugins/docker:pull', service: 'kubenest-test' });
    assert.equal(front.storeAuthorizations.length, 2, 'both layers came through the redirect');
    assert.deepEqual(front.storeAuthorizations, [undefined, undefined], 'the registry token is not sent to another host');
  });

  it('refuses a blob or a manifest that does not match its digest and keeps nothing of it', async () => {
    front.requireBearer = false;
    front.corruptBlobs = true;
    const image = `${front.url}/plugins/docker:v1`;
    const cacheDir = cache();
    try {
      await refused(resolvePluginImage('tampered', image, { cacheDir }), 'digest', 'tampered', image, /the blob sha256:[a-f0-9]{64} hashes to sha256:[a-f0-9]{64}: refused/);
    } finally {
      front.corruptBlobs = false;
    }
    assert.deepEqual(readdirSync(cacheDir).filter((name) => name.startsWith('sha256-')), [], 'no cache entry and no partial directory');
    front.alterManifests = true;
    try {
      // By tag: the body against the registry's Docker-Content-Digest; by digest: against the reference.
      await refused(resolvePluginImage('tampered', image, { cacheDir }), 'digest', 'tampered', image,
        /the manifest plugins\/docker:v1 hashes to sha256:[a-f0-9]{64}, not sha256:[a-f0-9]{64}: refused/);
      const pinned = `${front.url}/plugins/docker@${digests['plugins/docker:v1']}`;
      await refused(resolvePluginImage('tampered', pinned, { cacheDir }), 'digest', 'tampered', pinned,
        new RegExp(`the manifest plugins/docker@${digests['plugins/docker:v1']} hashes to sha256:[a-f0-9]{64}, not ${digests['plugins/docker:v1']}: refused`));
    } finally {
      front.alterManifests = false;
    }
    // A registry that answers 503 to two blob requests: tried again, pulled.
    front.failBlobs = 2;
    const lines: string[] = [];
    const good = await resolvePluginImage('tampered', image, { cacheDir, progress: (line) => lines.push(line) });
    assert.equal(front.failBlobs, 0);
    assert.equal(lines.filter((line) => /HTTP 503 \(UNAVAILABLE try later\); trying again/.test(line)).length, 2, lines.join('\n'));
    assert.equal(runPlugin(good.executable), 'kubenest-test-plugin v2');
    front.failBlobs = 3;
    await refused(resolvePluginImage('tampered', image, { cacheDir: cache() }), 'unreachable', 'tampered', image, /the blob sha256:[a-f0-9]{64}: the registry answered HTTP 503/);
    front.failBlobs = 0;
  });

  it('names the plugin and the image for a wrong reference, a missing image, an image without /plugin/plugin, and a symlink out of /plugin', async () => {
    const cacheDir = cache();
    await refused(resolvePluginImage('bad', 'Plugins/Upper:v1', { cacheDir }), 'reference', 'bad', 'Plugins/Upper:v1', /upper-case/);
    await refused(resolvePluginImage('gone', `${open.host}/plugins/absent:v1`, { cacheDir }), 'not-found', 'gone', `${open.host}/plugins/absent:v1`, /not found in the registry \(HTTP 404: MANIFEST_UNKNOWN manifest unknown\); check the repository \(127\.0\.0\.1:\d+\/plugins\/absent\) and the tag/);
    await refused(resolvePluginImage('gone', `${open.host}/plugins/docker:v9`, { cacheDir }), 'not-found', 'gone', `${open.host}/plugins/docker:v9`, /MANIFEST_UNKNOWN/);
    await refused(resolvePluginImage('empty', `${open.host}/plugins/none:v1`, { cacheDir }), 'no-plugin', 'empty', `${open.host}/plugins/none:v1`, /no \/plugin directory, so no \/plugin\/plugin/);
    await refused(resolvePluginImage('noexec', `${open.host}/plugins/not-executable:v1`, { cacheDir }), 'no-plugin', 'noexec', `${open.host}/plugins/not-executable:v1`, /\/plugin\/plugin is not executable \(mode 644\)/);
    await refused(resolvePluginImage('escape', `${open.host}/plugins/escape:v1`, { cacheDir }), 'invalid-image', 'escape', `${open.host}/plugins/escape:v1`,
      /the symlink \/plugin\/plugin -> \/bin\/sh points outside \/plugin; kubenest extracts only \/plugin and refuses links out of it/);
    assert.deepEqual(readdirSync(cacheDir).filter((name) => name.startsWith('sha256-')), [], 'images without a runnable plugin are not cached');
  });

  it('works from the cache with the registry down: a digest always, a tag resolved before; a tag never resolved is a clear error', async () => {
    const cacheDir = cache();
    const tagged = `${open.host}/plugins/docker:v1`;
    const pinned = `${open.host}/plugins/multi@${digests['plugins/multi:v1']}`;
    const first = await resolvePluginImage('down', tagged, { cacheDir });
    await resolvePluginImage('down', pinned, { cacheDir, platform: AMD64 });
    await open.stop();
    const lines: string[] = [];
    const offline = await resolvePluginImage('down', tagged, { cacheDir, progress: (line) => lines.push(line) });
    assert.equal(offline.source, 'offline');
    assert.equal(offline.digest, first.digest);
    assert.equal(runPlugin(offline.executable), 'kubenest-test-plugin v2');
    assert.ok(lines.some((line) => line.includes('the registry cannot be reached') && line.includes(`using ${first.digest}`)), lines.join('\n'));
    const cached = await resolvePluginImage('down', pinned, { cacheDir, platform: AMD64 });
    assert.equal(cached.source, 'cache');
    assert.equal(cached.digest, digests['plugins/multi:amd64']);
    await refused(resolvePluginImage('down', `${open.host}/plugins/multi:amd64`, { cacheDir }), 'unreachable', 'down', `${open.host}/plugins/multi:amd64`,
      /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED.*The tag amd64 was never resolved on this machine/);
    assert.ok(!existsSync(join(cacheDir, 'partial')));
  });
});
