// The operation table, record and stat layout are defined twice, in native/engine.h and in
// src/ops.ts + src/stats.ts: the addon reports its numbers by name, and they must agree with ours.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binding, bindingError } from '../src/binding.js';
import { jsLayout, layoutMismatches } from '../src/ops.js';

describe('layout shared by the addon and JS', () => {
  const native = binding();
  it('every operation code, record field and stat field has the same number on both sides', { skip: native ? false : `no addon: ${bindingError()}` }, () => {
    assert.deepEqual(layoutMismatches(native!.layout()), []);
    assert.ok(Object.keys(native!.layout()).length >= 30, 'the addon reports its layout');
  });

  it('a differing number or a name on one side only is found', () => {
    const ours = jsLayout();
    assert.deepEqual(layoutMismatches({ ...ours, OP_READ: 5 }), ['OP_READ: 5 in the addon, 1 in JS']);
    const { OP_CLOSE: _, ...withoutClose } = ours;
    assert.deepEqual(layoutMismatches(withoutClose), ['OP_CLOSE: missing in the addon, 10 in JS']);
    assert.deepEqual(layoutMismatches({ ...ours, OP_UNLINKAT: 11 }), ['OP_UNLINKAT: 11 in the addon, missing in JS']);
  });
});
