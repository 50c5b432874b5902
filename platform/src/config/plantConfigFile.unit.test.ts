import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PlantConfigError, loadPlantConfigFile, parsePlantConfigText } from './plantConfigFile.js';
import { EXAMPLE_PLANT_CONFIG_PATH } from './env.js';

const directory = mkdtempSync(join(tmpdir(), 'mes-plant-config-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let fileCount = 0;
function writeConfig(text: string): string {
  fileCount += 1;
  const path = join(directory, `plants-${String(fileCount)}.yaml`);
  writeFileSync(path, text);
  return path;
}

const GOOD = `
plants:
  P1:
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
    approvalTimeout: PT30M
    resources:
      - { id: T-01, type: Technician, name: Dana Ruiz }
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;

function loadError(path: string): PlantConfigError {
  try {
    loadPlantConfigFile(path);
  } catch (error) {
    expect(error).toBeInstanceOf(PlantConfigError);
    return error as PlantConfigError;
  }
  throw new Error(`expected ${path} to be refused`);
}

describe('loadPlantConfigFile', () => {
  it('loads a valid file', () => {
    const config = loadPlantConfigFile(writeConfig(GOOD));
    expect(config.plants.P1?.approvalTimeoutMs).toBe(1_800_000);
    expect(config.plants.P1?.resources).toEqual([{ id: 'T-01', type: 'Technician', name: 'Dana Ruiz' }]);
  });

  it('loads the shipped example, the default MES_CONFIG', () => {
    const config = loadPlantConfigFile(EXAMPLE_PLANT_CONFIG_PATH);
    expect(Object.keys(config.plants)).toEqual(['P1', 'P2']);
    expect(config.plants.P1?.approvers).toHaveLength(2);
    expect(config.plants.P1?.resources.filter((resource) => resource.type === 'Technician')).toHaveLength(2);
    expect(config.plants.P1?.resources.filter((resource) => resource.type === 'Equipment')).toHaveLength(2);
  });

  it('names a missing file and MES_CONFIG', () => {
    const path = join(directory, 'absent.yaml');
    const error = loadError(path);
    expect(error.code).toBe('PLANT_CONFIG_INVALID');
    expect(error.message.startsWith(path)).toBe(true);
    expect(error.message).toContain('file not found');
    expect(error.message).toContain('MES_CONFIG');
  });

  it('refuses a directory', () => {
    expect(loadError(directory).message).toContain('is a directory');
  });

  it('gives the line and column of a YAML syntax error', () => {
    const path = writeConfig('plants:\n  P1:\n    approvers: [\n      { email: a@b.example, name: A }\n');
    const error = loadError(path);
    expect(error.message.startsWith(`${path}: YAML syntax error`)).toBe(true);
    expect(error.message).toMatch(/line \d+, column \d+: /);
    expect(error.issues).toHaveLength(1);
  });

  it('refuses a plant listed twice, with its line', () => {
    const path = writeConfig(`${GOOD}  P1:\n    approvers: []\n`);
    expect(loadError(path).message).toMatch(/line 11, column 3: Map keys must be unique/);
  });

  it('names an unknown key with its path', () => {
    const path = writeConfig(GOOD.replace('approvalTimeout: PT30M', 'approvalTimeout: PT30M\n    escalateTo: carol@plant1.example'));
    const error = loadError(path);
    expect(error.issues).toEqual([{ path: 'plants.P1', message: 'unknown key "escalateTo": not allowed here' }]);
    expect(error.message).toBe(`${path}: invalid plant configuration:\n  - plants.P1: unknown key "escalateTo": not allowed here`);
  });

  it('names a bad value with its path and reason, listing every problem', () => {
    const path = writeConfig(GOOD.replace('action: maintenance', 'action: repair').replace('PT30M', 'P1M'));
    const error = loadError(path);
    expect(error.message.startsWith(`${path}: invalid plant configuration (2 problems):`)).toBe(true);
    expect(error.message).toContain('\n  - plants.P1.approvalTimeout: must not use years or months');
    expect(error.message).toContain('\n  - plants.P1.rules.0.action: must be one of maintenance, none (got "repair")');
  });

  it('refuses an empty file', () => {
    expect(loadError(writeConfig('# nothing yet\n')).message).toContain('must be a YAML mapping with a plants key (got null)');
  });

  it('refuses an alias to a missing anchor', () => {
    expect(loadError(writeConfig('plants: *missing\n')).message).toMatch(/^.*: YAML/);
  });
});

describe('parsePlantConfigText', () => {
  it('names the source it was given', () => {
    expect(() => parsePlantConfigText('plants: {}', 'inline test config')).toThrow(/^inline test config: invalid plant configuration:\n {2}- plants: must list at least one plant$/);
  });
});
