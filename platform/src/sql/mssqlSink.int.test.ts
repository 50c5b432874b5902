// The SQL sink contract against a real SQL Server in a container (testcontainers). Without a
// container runtime the suite is reported as skipped, with the reason: it is never faked.
import { MSSQLServerContainer, type StartedMSSQLServerContainer } from '@testcontainers/mssqlserver';
import sql from 'mssql';
import { getContainerRuntimeClient } from 'testcontainers';
import { describe, it, vi } from 'vitest';
import { openSqlSink } from './openSqlSink.js';
import { describeSqlSinkContract } from './sqlSinkContract.js';

const IMAGE = 'mcr.microsoft.com/mssql/server:2022-CU14-ubuntu-22.04';

/** Why no container can be started here, or undefined when a Docker/Podman engine answers. */
async function missingContainerRuntime(): Promise<string | undefined> {
  try {
    await getContainerRuntimeClient();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const missing = await missingContainerRuntime();

if (missing !== undefined) {
  console.warn(`SQL Server sink contract suite skipped: no container runtime (Docker/Podman) found: ${missing}`);
  describe.skip(`SQL sink contract: SQL Server (skipped: no container runtime: ${missing})`, () => {
    it('runs the SQL sink contract against SQL Server in a container', () => undefined);
  });
} else {
  // Pulling the image on a fresh machine takes longer than the int project's hook timeout.
  vi.setConfig({ hookTimeout: 600_000, testTimeout: 120_000 });
  describeSqlSinkContract('SQL Server', async () => {
    const container: StartedMSSQLServerContainer = await new MSSQLServerContainer(IMAGE).acceptLicense().start();
    const database = `mes_contract_${Date.now()}`;
    const admin = await new sql.ConnectionPool({
      server: container.getHost(),
      port: container.getPort(),
      user: container.getUsername(),
      password: container.getPassword(),
      database: 'master',
      options: { encrypt: false, trustServerCertificate: true },
    }).connect();
    await admin.request().batch(`CREATE DATABASE [${database}]`);
    await admin.close();
    const url = `mssql://${encodeURIComponent(container.getUsername())}:${encodeURIComponent(container.getPassword())}@${container.getHost()}:${container.getPort()}/${database}?encrypt=false&trustServerCertificate=true`;
    return {
      open: () => openSqlSink(url),
      dispose: async () => {
        await container.stop();
      },
    };
  });
}
