import { describe, expect, it } from 'vitest';
import { PlantsConfigSchema, evaluateRules, parseIsoDuration, plantSignatureMethod } from './plantConfig.js';
import type { PlantRule, RuleInput } from './plantConfig.js';
import { describeValidationIssues, validationIssues } from './telemetry.js';
import type { ValidationIssue } from './telemetry.js';

/** CONTRACT §3, as the YAML parser hands it over. */
function contractExample() {
  return {
    plants: {
      P1: {
        approvers: [
          { email: 'alice@plant1.example', name: 'Alice Novak' },
          { email: 'bob@plant1.example', name: 'Bob Ito' },
        ],
        approvalTimeout: 'PT30M',
        resources: [
          { id: 'T-01', type: 'Technician', name: 'Dana Ruiz' },
          { id: 'EQ-01', type: 'Equipment', name: 'Scissor lift' },
        ],
        rules: [
          { when: { machineStatus: 'Fault' }, action: 'maintenance', reason: 'Machine fault' },
          { when: { qualityTrend: 'Declining' }, action: 'maintenance', reason: 'Quality declining' },
          { when: { productionRatioBelow: 0.8 }, action: 'maintenance', reason: 'Output below 80% of target' },
        ],
      },
    },
  } as Record<string, unknown> & { plants: { P1: Record<string, unknown> & { approvers: unknown[]; resources: unknown[]; rules: unknown[] } } };
}

function issuesOf(config: unknown): ValidationIssue[] {
  const result = PlantsConfigSchema.safeParse(config, { reportInput: true });
  if (result.success) throw new Error('expected the configuration to be refused');
  return validationIssues(result.error);
}

function withP1(change: (plant: ReturnType<typeof contractExample>['plants']['P1']) => void): unknown {
  const config = contractExample();
  change(config.plants.P1);
  return config;
}

describe('PlantsConfigSchema', () => {
  describe('when the configuration is valid', () => {
    it('parses the CONTRACT §3 example and adds the timeout in milliseconds', () => {
      const config = PlantsConfigSchema.parse(contractExample());
      const plant = config.plants.P1;
      expect(plant?.approvalTimeout).toBe('PT30M');
      expect(plant?.approvalTimeoutMs).toBe(30 * 60_000);
      expect(plant?.approvers.map((approver) => approver.email)).toEqual(['alice@plant1.example', 'bob@plant1.example']);
      expect(plant?.rules[2]).toEqual({ when: { productionRatioBelow: 0.8 }, action: 'maintenance', reason: 'Output below 80% of target' });
    });

    it('accepts a plant without resources and a rule with action none and several conditions', () => {
      const config = withP1((plant) => {
        plant.resources = [];
        plant.rules = [{ when: { machineStatus: 'Idle', productionRatioBelow: 1 }, action: 'none', reason: 'Idle on purpose' }];
      });
      expect(PlantsConfigSchema.safeParse(config).success).toBe(true);
    });
  });

  describe('when a key is unknown', () => {
    it('names the unknown key and where it is', () => {
      expect(issuesOf(withP1((plant) => { plant.approver = []; }))).toEqual([
        { path: 'plants.P1', message: 'unknown key "approver": not allowed here' },
      ]);
    });

    it('refuses unknown keys at the top level', () => {
      const config = { ...contractExample(), plant: {} };
      expect(describeValidationIssues(issuesOf(config))).toBe('unknown key "plant": not allowed here');
    });

    it('refuses unknown keys in a rule condition', () => {
      const config = withP1((plant) => { plant.rules = [{ when: { temperatureAbove: 90 }, action: 'maintenance', reason: 'Hot' }]; });
      expect(issuesOf(config)).toContainEqual({ path: 'plants.P1.rules.0.when', message: 'unknown key "temperatureAbove": not allowed here' });
    });

    it('refuses unknown keys in an approver', () => {
      const config = withP1((plant) => { plant.approvers = [{ email: 'a@b.example', name: 'A', phone: '1' }]; });
      expect(issuesOf(config)).toEqual([{ path: 'plants.P1.approvers.0', message: 'unknown key "phone": not allowed here' }]);
    });
  });

  describe('when plants are missing or misnamed', () => {
    it('requires at least one plant', () => {
      expect(issuesOf({ plants: {} })).toEqual([{ path: 'plants', message: 'must list at least one plant' }]);
    });

    it('requires the plants key', () => {
      expect(issuesOf({})).toEqual([{ path: 'plants', message: 'is required' }]);
    });

    it('refuses an empty document', () => {
      expect(issuesOf(null)).toEqual([{ path: '', message: 'must be a YAML mapping with a plants key (got null)' }]);
    });

    it('refuses a plant id with a dot', () => {
      const config = { plants: { 'P.1': contractExample().plants.P1 } };
      expect(issuesOf(config)).toEqual([{ path: 'plants.P.1', message: 'plant id must be 1 to 64 characters of A-Z a-z 0-9 _ - (got "P.1")' }]);
    });
  });

  describe('when approvers are wrong', () => {
    it('refuses an invalid email with its path', () => {
      const config = withP1((plant) => { plant.approvers = [{ email: 'alice at plant1', name: 'Alice' }]; });
      expect(issuesOf(config)).toEqual([{ path: 'plants.P1.approvers.0.email', message: 'must be an email address (got "alice at plant1")' }]);
    });

    it('refuses an empty name', () => {
      const config = withP1((plant) => { plant.approvers = [{ email: 'alice@plant1.example', name: '  ' }]; });
      expect(issuesOf(config)).toEqual([{ path: 'plants.P1.approvers.0.name', message: 'must not be empty (got "")' }]);
    });

    it('refuses a missing name', () => {
      const config = withP1((plant) => { plant.approvers = [{ email: 'alice@plant1.example' }]; });
      expect(issuesOf(config)).toEqual([{ path: 'plants.P1.approvers.0.name', message: 'is required' }]);
    });

    it('refuses an empty list', () => {
      const config = withP1((plant) => { plant.approvers = []; });
      expect(issuesOf(config)).toEqual([{ path: 'plants.P1.approvers', message: 'must list at least one approver' }]);
    });

    it('refuses the same email twice, ignoring case', () => {
      const config = withP1((plant) => { plant.approvers.push({ email: 'Alice@Plant1.example', name: 'Alice again' }); });
      expect(issuesOf(config)).toEqual([
        { path: 'plants.P1.approvers.2.email', message: '"alice@plant1.example" is listed twice (also approvers.0.email)' },
      ]);
    });

    it('refuses a list given as a mapping', () => {
      const config = withP1((plant) => { plant.approvers = { email: 'a@b.example', name: 'A' } as unknown as unknown[]; });
      expect(issuesOf(config)).toEqual([{ path: 'plants.P1.approvers', message: 'must be a list (got an object)' }]);
    });
  });

  describe('when the approval timeout is wrong', () => {
    it.each([
      ['30 minutes', /^must be an ISO-8601 duration such as PT30M/],
      ['PT0S', /^must be longer than zero/],
      ['P1M', /^must not use years or months, whose length varies.*for 1 minute write PT1M/],
      ['P1Y', /^must not use years or months/],
    ])('refuses %j, saying why', (approvalTimeout, reason) => {
      const issues = issuesOf(withP1((plant) => { plant.approvalTimeout = approvalTimeout; }));
      expect(issues).toHaveLength(1);
      expect(issues[0]?.path).toBe('plants.P1.approvalTimeout');
      expect(issues[0]?.message).toMatch(reason);
      expect(issues[0]?.message).toContain(`(got "${approvalTimeout}")`);
    });

    it('refuses a number', () => {
      const issues = issuesOf(withP1((plant) => { plant.approvalTimeout = 30; }));
      expect(issues).toEqual([{ path: 'plants.P1.approvalTimeout', message: expect.stringMatching(/^must be an ISO-8601 duration.*\(got 30\)$/) }]);
    });
  });

  describe('when resources are wrong', () => {
    it('refuses an unknown type', () => {
      const config = withP1((plant) => { plant.resources = [{ id: 'R-1', type: 'Robot', name: 'Robo' }]; });
      expect(issuesOf(config)).toEqual([{ path: 'plants.P1.resources.0.type', message: 'must be one of Technician, Equipment (got "Robot")' }]);
    });

    it('refuses an id with a space', () => {
      const config = withP1((plant) => { plant.resources = [{ id: 'T 01', type: 'Technician', name: 'Dana' }]; });
      expect(issuesOf(config)).toEqual([{ path: 'plants.P1.resources.0.id', message: 'must be 1 to 64 characters of A-Z a-z 0-9 _ - (got "T 01")' }]);
    });

    it('refuses the same id twice in a plant', () => {
      const config = withP1((plant) => { plant.resources.push({ id: 'T-01', type: 'Technician', name: 'Other' }); });
      expect(issuesOf(config)).toEqual([{ path: 'plants.P1.resources.2.id', message: '"T-01" is listed twice (also resources.0.id)' }]);
    });

    it('refuses the same id in two plants, as the Resources table keys on it', () => {
      const config = contractExample() as { plants: Record<string, unknown> };
      config.plants.P2 = { ...contractExample().plants.P1, resources: [{ id: 'EQ-01', type: 'Equipment', name: 'Another lift' }] };
      expect(issuesOf(config)).toEqual([
        { path: 'plants.P2.resources.0.id', message: 'resource id "EQ-01" is already used by plant P1; resource ids must be unique across plants' },
      ]);
    });
  });

  describe('with a list of machines', () => {
    it('keeps the machines a plant accepts', () => {
      const parsed = PlantsConfigSchema.parse(withP1((plant) => { plant.machines = ['M-1', 'M-2']; }));
      expect(parsed.plants.P1?.machines).toEqual(['M-1', 'M-2']);
    });

    it('leaves an open plant without one', () => {
      expect(PlantsConfigSchema.parse(contractExample()).plants.P1?.machines).toBeUndefined();
    });

    it('refuses an empty list, a bad id and a machine listed twice', () => {
      expect(issuesOf(withP1((plant) => { plant.machines = []; }))).toEqual([{ path: 'plants.P1.machines', message: 'must list at least one machine, or be left out to accept any machine' }]);
      expect(issuesOf(withP1((plant) => { plant.machines = ['M 1']; }))).toEqual([{ path: 'plants.P1.machines.0', message: 'must be 1 to 64 characters of A-Z a-z 0-9 _ - (got "M 1")' }]);
      expect(issuesOf(withP1((plant) => { plant.machines = ['M-1', 'M-2', 'M-1']; }))).toEqual([{ path: 'plants.P1.machines.2', message: '"M-1" is listed twice (also machines.0)' }]);
    });
  });

  describe('with a signature method', () => {
    it('signs with the link alone unless told', () => {
      const plant = PlantsConfigSchema.parse(contractExample()).plants.P1!;
      expect(plant.signature).toBeUndefined();
      expect(plantSignatureMethod(plant)).toBe('link');
    });

    it('keeps link and link+pin', () => {
      expect(plantSignatureMethod(PlantsConfigSchema.parse(withP1((plant) => { plant.signature = 'link+pin'; })).plants.P1!)).toBe('link+pin');
      expect(PlantsConfigSchema.parse(withP1((plant) => { plant.signature = 'link'; })).plants.P1?.signature).toBe('link');
    });

    it('refuses anything else with its path', () => {
      expect(issuesOf(withP1((plant) => { plant.signature = 'pin'; }))).toEqual([{ path: 'plants.P1.signature', message: 'must be link (the default) or link+pin (got "pin")' }]);
      expect(issuesOf(withP1((plant) => { plant.signature = ['link', 'pin']; }))).toEqual([{ path: 'plants.P1.signature', message: 'must be link (the default) or link+pin' }]);
    });
  });

  describe('when rules are wrong', () => {
    it('refuses an unknown action', () => {
      const config = withP1((plant) => { plant.rules = [{ when: { machineStatus: 'Fault' }, action: 'repair', reason: 'x' }]; });
      expect(issuesOf(config)).toEqual([{ path: 'plants.P1.rules.0.action', message: 'must be one of maintenance, none (got "repair")' }]);
    });

    it('refuses a rule without conditions', () => {
      const config = withP1((plant) => { plant.rules = [{ when: {}, action: 'maintenance', reason: 'always' }]; });
      expect(issuesOf(config)).toEqual([
        { path: 'plants.P1.rules.0.when', message: 'must give at least one of machineStatus, qualityTrend, productionRatioBelow' },
      ]);
    });

    it.each([0, 1.2, -0.1, '0.8'])('refuses productionRatioBelow %j', (value) => {
      const config = withP1((plant) => { plant.rules = [{ when: { productionRatioBelow: value }, action: 'maintenance', reason: 'low' }]; });
      expect(issuesOf(config)).toEqual([
        { path: 'plants.P1.rules.0.when.productionRatioBelow', message: `must be a number above 0 and at most 1 (got ${JSON.stringify(value)})` },
      ]);
    });

    it('refuses an unknown machineStatus in a condition', () => {
      const config = withP1((plant) => { plant.rules = [{ when: { machineStatus: 'Broken' }, action: 'maintenance', reason: 'x' }]; });
      expect(issuesOf(config)).toEqual([
        { path: 'plants.P1.rules.0.when.machineStatus', message: 'must be one of Running, Idle, Fault, Maintenance, Offline (got "Broken")' },
      ]);
    });

    it('refuses a missing reason and an empty rule list', () => {
      expect(issuesOf(withP1((plant) => { plant.rules = [{ when: { machineStatus: 'Fault' }, action: 'none' }]; }))).toEqual([
        { path: 'plants.P1.rules.0.reason', message: 'is required' },
      ]);
      expect(issuesOf(withP1((plant) => { plant.rules = []; }))).toEqual([{ path: 'plants.P1.rules', message: 'must list at least one rule' }]);
    });
  });

  it('lists every problem at once', () => {
    const config = withP1((plant) => {
      plant.approvalTimeout = 'P0D';
      plant.rules = [{ when: { machineStatus: 'Fault' }, action: 'fix', reason: 'x' }];
    });
    expect(issuesOf(config).map((issue) => issue.path)).toEqual(['plants.P1.approvalTimeout', 'plants.P1.rules.0.action']);
  });
});

describe('parseIsoDuration', () => {
  it.each([
    ['PT30M', 30 * 60_000],
    ['PT1H30M', 90 * 60_000],
    ['P1D', 86_400_000],
    ['P1DT12H', 1.5 * 86_400_000],
    ['P2W', 14 * 86_400_000],
    ['PT45S', 45_000],
    ['PT0.5S', 500],
    ['PT1,25S', 1250],
    ['PT2M0.001S', 120_001],
    ['PT90M', 90 * 60_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseIsoDuration(text)).toBe(ms);
  });

  it.each(['', 'P', 'PT', '30M', 'pt30m', 'PT-5M', 'PT1.5M', 'PT0.0001S', 'P1DT', 'PT30M ', 'P1H'])('refuses %j as not a duration', (text) => {
    expect(() => parseIsoDuration(text)).toThrow(`duration ${JSON.stringify(text)} must be an ISO-8601 duration such as PT30M`);
  });

  it('refuses zero', () => {
    expect(() => parseIsoDuration('PT0M')).toThrow('duration "PT0M" must be longer than zero');
  });

  it('refuses months and years, whose length varies', () => {
    expect(() => parseIsoDuration('P1M')).toThrow(/must not use years or months, whose length varies/);
    expect(() => parseIsoDuration('P1Y2M')).toThrow(/must not use years or months/);
  });

  it('refuses a duration too long to count in milliseconds', () => {
    expect(() => parseIsoDuration(`P${'9'.repeat(20)}D`)).toThrow('is too long');
  });
});

describe('evaluateRules', () => {
  const rules: PlantRule[] = [
    { when: { machineStatus: 'Fault' }, action: 'maintenance', reason: 'Machine fault' },
    { when: { machineStatus: 'Running', qualityTrend: 'Declining' }, action: 'maintenance', reason: 'Running but declining' },
    { when: { qualityTrend: 'Declining' }, action: 'none', reason: 'Declining while stopped' },
    { when: { productionRatioBelow: 0.8 }, action: 'maintenance', reason: 'Output below 80%' },
  ];
  const healthy: RuleInput = { machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 100, productionActual: 95 };

  it('matches nothing for a healthy machine', () => {
    expect(evaluateRules(rules, healthy)).toBeUndefined();
  });

  it('lets the first matching rule win', () => {
    expect(evaluateRules(rules, { ...healthy, machineStatus: 'Fault', qualityTrend: 'Declining', productionActual: 10 })).toEqual({ rule: rules[0], index: 0 });
  });

  it('requires every condition of a rule to hold', () => {
    expect(evaluateRules(rules, { ...healthy, qualityTrend: 'Declining' })?.index).toBe(1);
    expect(evaluateRules(rules, { ...healthy, machineStatus: 'Idle', qualityTrend: 'Declining' })?.index).toBe(2);
  });

  it('compares output with target strictly below the ratio', () => {
    expect(evaluateRules(rules, { ...healthy, productionActual: 79 })?.index).toBe(3);
    expect(evaluateRules(rules, { ...healthy, productionActual: 80 })).toBeUndefined();
  });

  it('never matches a ratio rule when the target is 0', () => {
    expect(evaluateRules(rules, { ...healthy, productionTarget: 0, productionActual: 0 })).toBeUndefined();
  });
});
