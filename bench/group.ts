/**
 * What one group of the benchmark adds to the report: its rows in the main table, how each figure
 * is measured, why backburner is behind where it is, and sections of its own (a table, a plot).
 * bench.ts runs a group alone with `--only <name>` and prints this, or merges it into the report.
 */
import type { Row } from "./report.ts";

export interface GroupReport {
  readonly rows: Row[];
  /** Bullets of "How each figure is measured". */
  readonly notes: string[];
  /** Why backburner is behind, by the row's short name. */
  readonly explanations: Record<string, string>;
  /** Markdown sections after the notes (each starting with its "## " heading). */
  readonly sections: string[];
  /** Files beside the report (e.g. a plot), by file name: their text. */
  readonly files: Record<string, string>;
}
