// Rejected telemetry, newest first, with the reason a person can act on.
import { useApi } from '../live.js';
import { LoadState, TableWrap, Time } from '../parts.js';
import type { DeadLetter } from '../types.js';

const SHOWN_PAYLOAD = 300;

export function DeadLettersView() {
  const { data, error, loading } = useApi<{ count: number; deadLetters: DeadLetter[] }>('/api/dead-letters?limit=100', ['deadLetters']);
  const deadLetters = data?.deadLetters ?? [];
  return (
    <section aria-labelledby="dead-letters-title">
      <h1 id="dead-letters-title">Dead letters</h1>
      <p class="muted">Telemetry that broke a rule of the MQTT contract, newest first (the last 100).</p>
      <LoadState error={error} loading={loading} empty={deadLetters.length === 0}>
        No message was rejected.
      </LoadState>
      {deadLetters.length > 0 ? (
        <TableWrap label="Dead letters">
          <thead>
            <tr>
              <th scope="col">Received</th>
              <th scope="col">Topic</th>
              <th scope="col">Reason</th>
              <th scope="col">Payload</th>
            </tr>
          </thead>
          <tbody>
            {deadLetters.map((letter) => (
              <tr key={letter.sequence} class="dead-letter">
                <td>
                  <Time iso={letter.receivedAt} />
                </td>
                <td>
                  <code>{letter.topic}</code>
                </td>
                <td>{letter.reason}</td>
                <td>
                  <code class="payload">
                    {letter.encoding === 'base64' ? '(not UTF-8, base64) ' : ''}
                    {letter.payload.length > SHOWN_PAYLOAD ? `${letter.payload.slice(0, SHOWN_PAYLOAD)}…` : letter.payload}
                  </code>
                </td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      ) : null}
    </section>
  );
}
