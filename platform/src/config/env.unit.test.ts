import { describe, expect, it } from 'vitest';
import { ConfigError, EXAMPLE_PLANT_CONFIG_PATH, loadConfig } from './env.js';

function issuesOf(env: NodeJS.ProcessEnv): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadConfig', () => {
  describe('with nothing set', () => {
    it('uses the defaults of CONTRACT §6', () => {
      expect(loadConfig({})).toEqual({
        natsUrl: 'nats://127.0.0.1:4222',
        mqttUrl: 'mqtt://127.0.0.1:1883',
        mqttClientId: undefined,
        eventStoreUrl: undefined,
        sqlUrl: 'sqlite:./data/mes.sqlite',
        smtpUrl: undefined,
        mailFrom: 'mes@localhost',
        publicUrl: 'http://127.0.0.1:3000',
        httpPort: 3000,
        httpHost: '0.0.0.0',
        trustProxy: false,
        mesEnv: 'development',
        apiToken: undefined,
        apiTokens: [],
        approvalSecret: undefined,
        plantConfigPath: EXAMPLE_PLANT_CONFIG_PATH,
        dataDir: './data',
        plants: undefined,
        dedupeWindowMs: 120_000,
        natsReplicas: 1,
        logLevel: 'info',
        tracing: { otlpTracesUrl: undefined, serviceName: undefined },
      });
    });

    it('treats empty variables as unset', () => {
      expect(loadConfig({ HTTP_PORT: '', SMTP_URL: '  ' })).toMatchObject({ httpPort: 3000, smtpUrl: undefined });
    });
  });

  describe('with values set', () => {
    it('reads every variable', () => {
      const config = loadConfig({
        NATS_URL: 'nats://n1:4222,nats://n2:4222',
        MQTT_URL: 'mqtts://broker:8883',
        EVENTSTORE_URL: 'esdb://esdb:2113?tls=false',
        SQL_URL: 'mssql://sa:Secret123@sql:1433/mes',
        SMTP_URL: 'smtp://mail:2525',
        MAIL_FROM: 'maintenance@plant1.example',
        PUBLIC_URL: 'https://mes.plant1.example/',
        HTTP_PORT: '8080',
        API_TOKEN: 'a'.repeat(16),
        APPROVAL_SECRET: 'b'.repeat(32),
        MES_CONFIG: '/etc/mes/plants.yaml',
        DATA_DIR: '/var/lib/mes',
        PLANTS: 'P1, P2,P1',
        DEDUPE_WINDOW: 'PT5M',
        NATS_REPLICAS: '3',
        LOG_LEVEL: 'debug',
      });
      expect(config).toMatchObject({
        natsUrl: 'nats://n1:4222,nats://n2:4222',
        eventStoreUrl: 'esdb://esdb:2113?tls=false',
        sqlUrl: 'mssql://sa:Secret123@sql:1433/mes',
        publicUrl: 'https://mes.plant1.example',
        httpPort: 8080,
        plants: ['P1', 'P2'],
        dedupeWindowMs: 300_000,
        natsReplicas: 3,
        logLevel: 'debug',
      });
    });

    it('turns tracing on with an OTLP endpoint, the traces path appended', () => {
      expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/', OTEL_SERVICE_NAME: 'mes-p1' }).tracing).toEqual({ otlpTracesUrl: 'http://jaeger:4318/v1/traces', serviceName: 'mes-p1' });
      expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector.example/traces' }).tracing.otlpTracesUrl).toBe('https://collector.example/traces');
      expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_SDK_DISABLED: 'true' }).tracing.otlpTracesUrl).toBeUndefined();
    });

    it('accepts sqlite paths and "all" plants', () => {
      expect(loadConfig({ SQL_URL: 'sqlite:/tmp/x.sqlite', PLANTS: 'all' })).toMatchObject({ sqlUrl: 'sqlite:/tmp/x.sqlite', plants: undefined });
    });
  });

  describe('with bad values', () => {
    it.each([
      ['NATS_URL', 'http://localhost:4222', /nats:\/\/ URLs/],
      ['MQTT_URL', 'broker:1883', /must be a URL starting with mqtt:\/\//],
      ['EVENTSTORE_URL', 'http://esdb:2113', /esdb:\/\//],
      ['SQL_URL', 'postgres://db/mes', /sqlite:PATH or mssql:\/\//],
      ['SMTP_URL', 'mail.example:25', /smtp:\/\//],
      ['MAIL_FROM', 'not an address', /email address/],
      ['PUBLIC_URL', 'mes.example', /http:\/\//],
      ['HTTP_PORT', 'eighty', /whole number from 0 to 65535 \(got "eighty"\)/],
      ['HTTP_PORT', '70000', /whole number from 0 to 65535/],
      ['HTTP_PORT', '80.5', /whole number/],
      ['API_TOKEN', 'short', /at least 16 characters/],
      ['APPROVAL_SECRET', 'short', /at least 32 characters/],
      ['PLANTS', 'P1,bad plant', /not valid: "bad plant"/],
      ['DEDUPE_WINDOW', '2 minutes', /DEDUPE_WINDOW|duration/i],
      ['LOG_LEVEL', 'loud', /one of fatal, error/],
      ['MQTT_CLIENT_ID', 'with space', /printable ASCII characters without spaces/],
      ['TRUST_PROXY', 'true', /client wrote itself; give the number of proxies/],
      ['TRUST_PROXY', 'yes', /not an address: "yes"/],
      ['TRUST_PROXY', '10.0.0.1,10.0.0.0/33', /not an address: "10.0.0.0\/33"/],
      ['MES_ENV', 'staging', /development or production \(got "staging"\)/],
      ['API_TOKENS', 'erp', /entry 1 must be name:token/],
      ['API_TOKENS', 'erp:short', /token of erp must be at least 16 characters/],
      ['API_TOKENS', `erp:${'e'.repeat(16)},erp:${'f'.repeat(16)}`, /erp is named twice/],
      ['API_TOKENS', `erp:${'e'.repeat(16)},mes:${'e'.repeat(16)}`, /mes has the same token as erp/],
      ['NATS_REPLICAS', '0', /whole number from 1 to 5 .*\(got "0"\)/],
      ['NATS_REPLICAS', 'three', /whole number from 1 to 5/],
      ['NATS_REPLICAS', '2.5', /whole number from 1 to 5/],
      ['NATS_REPLICAS', '7', /JetStream's limit/],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'jaeger:4318', /must be a URL starting with http:\/\/ or https:\/\//],
      ['OTEL_SDK_DISABLED', 'yes', /true or false/],
    ])('refuses %s=%s naming the variable and the reason', (variable, value, reason) => {
      const issues = issuesOf({ [variable]: value });
      expect(issues).toHaveLength(1);
      expect(issues[0]!.variable).toBe(variable);
      expect(issues[0]!.message).toMatch(reason);
    });

    it('lists every bad variable at once, in a message a person can act on', () => {
      let error: unknown;
      try {
        loadConfig({ HTTP_PORT: 'x', MQTT_URL: 'y' });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/^Invalid configuration:\n/);
      expect((error as Error).message).toContain('HTTP_PORT: must be a whole number');
      expect((error as Error).message).toContain('MQTT_URL: must be a URL');
    });

    it('never echoes a password from a bad URL', () => {
      const issues = issuesOf({ SQL_URL: 'postgres://sa:TopSecret@db/mes', SMTP_URL: 'http://u:TopSecret@mail', NATS_URL: 'nats://a:TopSecret@n1:4222,http://b:TopSecret@n2:4222' });
      expect(issues).toHaveLength(3);
      for (const issue of issues) expect(issue.message).not.toContain('TopSecret');
    });
  });

  describe('TRUST_PROXY', () => {
    it.each([
      ['false', false],
      ['0', false],
      ['1', 1],
      ['2', 2],
      ['10.0.0.5', ['10.0.0.5']],
      ['10.0.0.5, 10.1.0.0/16,::1', ['10.0.0.5', '10.1.0.0/16', '::1']],
    ])('reads %s', (value, expected) => {
      expect(loadConfig({ TRUST_PROXY: value }).trustProxy).toEqual(expected);
    });
  });

  describe('API_TOKENS', () => {
    it('names each holder beside API_TOKEN', () => {
      expect(loadConfig({ API_TOKENS: `erp:${'e'.repeat(16)}, maria@plant1.example:${'m'.repeat(20)}` }).apiTokens).toEqual([
        { name: 'erp', token: 'e'.repeat(16) },
        { name: 'maria@plant1.example', token: 'm'.repeat(20) },
      ]);
    });
  });

  describe('with MES_ENV=production', () => {
    const complete = {
      MES_ENV: 'production',
      SMTP_URL: 'smtp://relay.plant1.example:587',
      API_TOKEN: 'a'.repeat(16),
      APPROVAL_SECRET: 'b'.repeat(32),
      PUBLIC_URL: 'https://mes.plant1.example',
    };

    it('starts when mail, secrets and the public address are set', () => {
      expect(loadConfig(complete)).toMatchObject({ mesEnv: 'production', smtpUrl: 'smtp://relay.plant1.example:587' });
    });

    it('names each missing variable, in one message', () => {
      let error: unknown;
      try {
        loadConfig({ MES_ENV: 'production', API_TOKEN: 'a'.repeat(16) });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.map((issue) => issue.variable)).toEqual(['SMTP_URL', 'APPROVAL_SECRET', 'PUBLIC_URL']);
      expect((error as Error).message).toContain('SMTP_URL: must be set when MES_ENV=production');
    });

    it.each(['SMTP_URL', 'API_TOKEN', 'APPROVAL_SECRET', 'PUBLIC_URL'])('refuses to start without %s', (variable) => {
      const issues = issuesOf({ ...complete, [variable]: '' });
      expect(issues.map((issue) => issue.variable)).toEqual([variable]);
    });
  });
});
