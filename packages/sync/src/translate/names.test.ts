import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NameTranslator, safeConcatName, sha256Hex } from './names.ts';

// Vectors marked "vCluster" appear verbatim in vCluster's own tests (vc name "suffix", host
// namespace "test"); host objects made by vCluster are only recognised if these match exactly.
describe('host names', () => {
  const names = new NameTranslator('suffix', 'test');

  it('namespaced: <name>-x-<namespace>-x-<vcluster> (vCluster)', () => {
    assert.equal(names.hostName('somesecret', 'test'), 'somesecret-x-test-x-suffix');
    assert.equal(new NameTranslator('my-vcluster', 'host-ns').hostName('my-pod', 'default'), 'my-pod-x-default-x-my-vcluster');
  });

  it('cluster-scoped: vcluster-<name>-x-<host namespace>-x-<vcluster> (vCluster)', () => {
    assert.equal(names.hostNameCluster('stuff'), 'vcluster-stuff-x-test-x-suffix');
    assert.equal(names.hostNameCluster('retainSC'), 'vcluster-retainSC-x-test-x-suffix');
  });

  it('hashes names past 63 characters: 52 kept, "-", 10 hex digits of the sha256 of the whole', () => {
    const full = `${'a'.repeat(50)}-x-default-x-suffix`;
    const name = names.hostName('a'.repeat(50), 'default');
    assert.equal(name, `${full.slice(0, 52)}-${sha256Hex(full).slice(0, 10)}`);
    assert.equal(name.length, 63);
    assert.equal(safeConcatName('x'.repeat(63)), 'x'.repeat(63), 'exactly 63 characters is kept as it is');
    assert.equal(safeConcatName('x'.repeat(64)).length, 63);
  });

  it('never leaves ".-" at the cut (a name may not have a dot before a dash)', () => {
    const withDotAtCut = `${'b'.repeat(51)}.${'c'.repeat(20)}`;
    const name = safeConcatName(withDotAtCut);
    assert.ok(!name.includes('.-'), name);
    assert.equal(name, `${'b'.repeat(51)}-${sha256Hex(withDotAtCut).slice(0, 10)}`);
    assert.equal(name.length, 62);
  });

  it('short names are v + 13 base-36 digits of the sha256 of <name>-x-<namespace>-x-<vcluster>', () => {
    const short = names.hostNameShort('my-pod', 'default');
    assert.match(short, /^v[0-9a-z]{13}$/);
    const value = BigInt(`0x${sha256Hex('my-pod-x-default-x-suffix')}`);
    assert.equal(short, `v${value.toString(36).slice(0, 13)}`);
  });

  it('helper names', () => {
    assert.equal(names.leaderLeaseName(), 'vcluster-suffix-controller');
    assert.equal(names.kubeconfigSecretName(), 'vc-suffix');
    assert.equal(names.clusterMarker(), 'test-x-suffix');
  });
});
