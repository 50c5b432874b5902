// Asks for the reason of an action before it is done (a modal <dialog>: focus moves into it, Esc
// closes it, and the reason is required).
import { useEffect, useRef, useState } from 'preact/hooks';

export interface ReasonDialogProps {
  title: string;
  label: string;
  confirm: string;
  /** Runs the action; a rejection's message is shown in the dialog. */
  onConfirm(reason: string): Promise<void>;
  onClose(): void;
}

export function ReasonDialog({ title, label, confirm, onConfirm, onClose }: ReasonDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (reason.trim() === '') {
      setProblem('A reason is needed.');
      return;
    }
    setBusy(true);
    try {
      await onConfirm(reason.trim());
      dialog.current?.close();
    } catch (err) {
      setProblem((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <dialog ref={dialog} onClose={onClose} aria-labelledby="reason-title">
      <form onSubmit={submit}>
        <h2 id="reason-title">{title}</h2>
        <label for="reason">{label}</label>
        <textarea id="reason" name="reason" rows={3} maxLength={400} required value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} />
        {problem ? (
          <p class="problem" role="alert">
            {problem}
          </p>
        ) : null}
        <div class="actions">
          <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
            Back
          </button>
          <button type="submit" disabled={busy}>
            {confirm}
          </button>
        </div>
      </form>
    </dialog>
  );
}
