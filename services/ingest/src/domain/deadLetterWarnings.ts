// Rejected readings are visible at the default log level without flooding it: the first one of a
// plant after a quiet interval is warned at once, and those that follow within the interval are
// summed up in one warning per plant when it ends. Pure: the caller passes the time.

export interface DeadLetterWarning {
  plantId: string;
  /** Rejections the warning speaks for. */
  count: number;
  lastReason: string;
  message: string;
}

interface PlantWindow {
  /** When the last warning of this plant was given (epoch ms). */
  warnedAt: number;
  /** Rejections since that warning. */
  count: number;
  lastReason: string;
}

export const DEFAULT_WARNING_INTERVAL_MS = 60_000;

function interval(ms: number): string {
  return ms % 60_000 === 0 ? (ms === 60_000 ? 'minute' : `${ms / 60_000} minutes`) : `${ms / 1000} s`;
}

export class DeadLetterWarnings {
  private readonly plants = new Map<string, PlantWindow>();

  constructor(private readonly intervalMs = DEFAULT_WARNING_INTERVAL_MS) {}

  /** Counts one rejection; returns the warning to give now when the plant was quiet for an interval. */
  record(plantId: string, reason: string, nowMs: number): DeadLetterWarning | undefined {
    const window = this.plants.get(plantId);
    if (window === undefined || (window.count === 0 && nowMs - window.warnedAt >= this.intervalMs)) {
      this.plants.set(plantId, { warnedAt: nowMs, count: 0, lastReason: reason });
      return {
        plantId,
        count: 1,
        lastReason: reason,
        message: `reading dead-lettered in plant ${plantId}: ${reason} (more in this plant are summed up every ${interval(this.intervalMs)}; GET /api/dead-letters lists them)`,
      };
    }
    window.count++;
    window.lastReason = reason;
    return undefined;
  }

  /** The summaries whose interval has ended, one per plant with rejections since its last warning. */
  due(nowMs: number): DeadLetterWarning[] {
    const warnings: DeadLetterWarning[] = [];
    for (const [plantId, window] of this.plants) {
      if (nowMs - window.warnedAt < this.intervalMs) continue;
      if (window.count === 0) {
        // Quiet for a whole interval: the next rejection is warned at once again.
        this.plants.delete(plantId);
        continue;
      }
      warnings.push({
        plantId,
        count: window.count,
        lastReason: window.lastReason,
        message: `${window.count} reading${window.count === 1 ? '' : 's'} dead-lettered in plant ${plantId} in the last ${interval(this.intervalMs)}, last reason: ${window.lastReason}`,
      });
      this.plants.set(plantId, { warnedAt: nowMs, count: 0, lastReason: window.lastReason });
    }
    return warnings;
  }
}
