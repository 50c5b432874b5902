// The reporting tables: where they are, and how far each source is applied (the lag).
import { useApi } from '../live.js';
import { LoadState, TableWrap, Time } from '../parts.js';
import type { ProjectionsStatus } from '../types.js';

export function ProjectionsView() {
  const { data, error, loading } = useApi<ProjectionsStatus>('/api/projections/status', ['projections']);
  return (
    <section aria-labelledby="projections-title">
      <h1 id="projections-title">Projections</h1>
      <LoadState error={error} loading={loading} empty={data === undefined}>
        Reading the status…
      </LoadState>
      {data ? (
        <>
          <p>
            SQL: <code>{data.sql.location}</code> ({data.sql.dialect}) {data.sql.reachable ? <span class="badge good">reachable</span> : <span class="badge bad">unreachable: {data.sql.error}</span>}
          </p>
          <TableWrap label="Projection sources">
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Checkpoint</th>
                <th scope="col">End of log</th>
                <th scope="col">Behind</th>
                <th scope="col">Applied</th>
                <th scope="col">Last commit</th>
                <th scope="col">Problem</th>
              </tr>
            </thead>
            <tbody>
              {data.sources.map((source) => (
                <tr key={source.source}>
                  <td>{source.source}</td>
                  <td>{source.checkpoint ?? '–'}</td>
                  <td>{source.end ?? '–'}</td>
                  <td>{source.behind === null ? 'unknown' : source.upToDate ? <span class="badge good">up to date</span> : <span class="badge warn">{source.behind} behind</span>}</td>
                  <td>{source.applied}</td>
                  <td>
                    <Time iso={source.lastCommittedAt} />
                  </td>
                  <td>{source.lastError ?? (source.failingSince ? `failing since ${source.failingSince}` : '')}</td>
                </tr>
              ))}
            </tbody>
          </TableWrap>
        </>
      ) : null}
    </section>
  );
}
