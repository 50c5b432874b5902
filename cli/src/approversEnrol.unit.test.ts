import { describe, expect, it } from 'vitest';
import { parseCliArgs, USAGE } from './mesCli.js';

describe('mes approvers enrol', () => {
  it('takes the approver\'s email', () => {
    expect(parseCliArgs(['approvers', 'enrol', 'alice@plant1.example'])).toEqual({ kind: 'approversEnrol', email: 'alice@plant1.example' });
  });

  it.each([
    [['approvers'], 'mes approvers takes enrol'],
    [['approvers', 'enroll', 'alice@plant1.example'], 'mes approvers takes enrol (got "enroll")'],
    [['approvers', 'enrol'], 'mes approvers enrol needs the approver\'s email'],
    [['approvers', 'enrol', 'alice@plant1.example', 'bob@plant1.example'], 'unexpected argument "bob@plant1.example"'],
    [['approvers', 'enrol', 'alice@plant1.example', '--json'], 'unknown option --json for mes approvers'],
  ])('is wrong usage as %j', (argv, error) => {
    expect(parseCliArgs(argv)).toEqual({ kind: 'usage', error });
  });

  it('is in the usage text', () => {
    expect(USAGE).toContain('mes approvers enrol <email>');
  });
});
