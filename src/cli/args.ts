/** Parsing a command's arguments with node:util parseArgs, and saying what is wrong with them. */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { BackburnerError } from "../errors.ts";

/** Exit code 2: the command line itself is wrong (an invalid argument, as main.ts maps it). */
export class UsageError extends BackburnerError {
  constructor(message: string) {
    super("invalid_argument", message);
  }
}

const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;

/** parseArgs' message, which may run over several lines, as one sentence. */
function usageMessage(error: unknown, command: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const option = /'([^']+)'/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) {
    const hint = command === "run"
      ? `: put the command after --, as in backburner run -- ls ${option}`
      : `: see backburner ${command} --help`;
    return `unknown option "${option}" for ${command}${hint}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option) {
    const name = option.split(" ")[0];
    return /ambiguous/.test(message)
      ? `option ${name} got a value that starts with "-": write it as ${name}=VALUE`
      : `option ${name} needs a value: see backburner ${command} --help`;
  }
  return `${message.split("\n")[0]}: see backburner ${command} --help`;
}

/** A command's options (and -h, --help) and positionals; a mistake is a UsageError. */
export function parse<T extends ParseArgsOptionsConfig>(
  command: string,
  args: string[],
  options: T,
) {
  try {
    return parseArgs({
      args,
      options: { ...options, ...HELP_OPTION },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(usageMessage(error, command));
  }
}

/** Refuses positionals where a command takes none. */
export function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(
      `${command} takes no arguments, but got "${
        positionals[0]
      }": see backburner ${command} --help`,
    );
  }
}

/** The value of --name as a whole number within range, if given. */
export function wholeNumber(
  name: string,
  value: string | undefined,
  range: { readonly min: number; readonly max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || number < range.min || number > range.max) {
    throw new UsageError(
      `--${name} "${value}" is not a whole number from ${range.min} to ${range.max}`,
    );
  }
  return number;
}

/** The value of --name as a number of seconds above 0, if given. */
export function positiveSeconds(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number) || number <= 0) {
    throw new UsageError(`--${name} "${value}" is not a number of seconds above 0`);
  }
  return number;
}

/** The one task id a command takes. */
export function oneId(command: string, positionals: string[]): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      `${command} takes one task id, but got ${positionals.length}: see backburner ${command} --help`,
    );
  }
  return positionals[0];
}

/** The values of a repeatable option, each of which may be a comma-separated list. */
export function listValues(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((value) => value.split(",")).map((value) => value.trim())
    .filter((value) => value !== "");
}

/** The value of --name as a number of seconds from 0 to `max`, if given. */
export function seconds(name: string, value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number) || number < 0 || number > max) {
    throw new UsageError(`--${name} "${value}" is not a number of seconds from 0 to ${max}`);
  }
  return number;
}
