/**
 * tools/call checked before the SDK runs anything: a task-augmented call of a tool that forbids
 * tasks is refused (-32602) instead of being run and then refused, and arguments that do not fit
 * the tool's input schema get an isError result of one sentence saying what to pass, instead of
 * the SDK's "Input validation error" dump.
 *
 * @module
 */
import { z } from "zod";
import type { CallToolResult, McpServer } from "../sdk.ts";

/** What the screen needs of a registered tool. */
export interface ScreenedTool {
  readonly inputSchema?: unknown;
  readonly execution?: { readonly taskSupport?: string };
}

/** The screen's verdict: a JSON-RPC error, a tool result, or nothing (let the SDK run it). */
export type CallVerdict =
  | { readonly error: { readonly code: number; readonly message: string } }
  | { readonly result: CallToolResult }
  | null;

/** JSON-RPC's invalid params, the code the spec gives a task-augmented call of such a tool. */
const INVALID_PARAMS = -32602;

/** The server's tools as the SDK registered them, read at call time. */
export function registeredTools(server: McpServer): (name: string) => ScreenedTool | undefined {
  // The SDK offers no public way to look a registered tool up by name.
  const tools = server["_registeredTools"] as Record<string, ScreenedTool & { enabled: boolean }>;
  return (name) => {
    const tool = Object.hasOwn(tools, name) ? tools[name] : undefined;
    return tool?.enabled ? tool : undefined;
  };
}

/** Checks a tools/call request's params against the tool it names. */
export function screenToolCall(
  tool: ScreenedTool | undefined,
  params: { name: string; arguments?: Record<string, unknown>; task?: unknown },
): CallVerdict {
  if (tool === undefined) return null;
  const { name } = params;
  if (params.task !== undefined && (tool.execution?.taskSupport ?? "forbidden") === "forbidden") {
    return {
      error: {
        code: INVALID_PARAMS,
        message:
          `${name} cannot be called as a task: call it without the task parameter, or use run_command for a task-augmented call`,
      },
    };
  }
  const text = argumentsProblem(name, tool.inputSchema, params.arguments ?? {});
  return text === null ? null : { result: { isError: true, content: [{ type: "text", text }] } };
}

/**
 * One sentence saying which argument does not fit a tool's input schema and what to pass, or null
 * when they fit; both protocol eras answer bad arguments with it.
 */
export function argumentsProblem(
  name: string,
  inputSchema: unknown,
  args: Record<string, unknown>,
): string | null {
  const schema = inputSchema as Partial<ObjectSchema> | undefined;
  // The SDK builds the object from our shape with its own copy of zod: no instanceof here.
  if (typeof schema?.safeParse !== "function" || typeof schema.shape !== "object") return null;
  const issues = schema.safeParse(args).error?.issues;
  if (!issues?.length) return null;
  return argumentProblem(name, schema as ObjectSchema, args, issues[0]);
}

interface Issue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
}

interface ObjectSchema {
  readonly shape: Record<string, unknown>;
  safeParse(value: unknown): { error?: { issues: readonly Issue[] } };
}

/** One sentence saying which argument is wrong and what to pass instead. */
function argumentProblem(
  tool: string,
  schema: ObjectSchema,
  args: Record<string, unknown>,
  issue: Issue,
): string {
  const field = String(issue.path[0] ?? "");
  const fieldSchema = schema.shape[field] as z.ZodType | undefined;
  if (fieldSchema === undefined) {
    return `${tool} got arguments it cannot use: pass the arguments tools/list shows for it`;
  }
  const what = accepts(z.toJSONSchema(fieldSchema, { io: "input" }) as JsonSchema);
  const value = args[field];
  if (value === undefined) {
    const description = fieldSchema.description ?? what;
    return `${tool} needs ${field}: pass ${
      description.charAt(0).toLowerCase() + description.slice(1)
    }`;
  }
  const where = issue.path.map(String).join(".");
  if (issue.code === "too_small" || issue.code === "too_big") {
    return Array.isArray(value)
      ? `${where} has ${value.length} items: pass ${what}`
      : `${where} ${shown(value)} is out of range: pass ${what}`;
  }
  return `${tool} cannot use ${where} ${shown(valueAt(args, issue.path))}: pass ${what}`;
}

function valueAt(args: Record<string, unknown>, path: readonly PropertyKey[]): unknown {
  let value: unknown = args;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | null)?.[key];
  return value;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

interface JsonSchema {
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly items?: JsonSchema;
  readonly additionalProperties?: JsonSchema | boolean;
}

/** What a schema accepts, in words: "a whole number from 1 to 1000", "one of "any", "all"". */
function accepts(schema: JsonSchema): string {
  if (schema.enum) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  switch (schema.type) {
    case "integer":
      return `a whole number${range(schema)}`;
    case "number":
      return `a number${range(schema)}`;
    case "string":
      return "a string";
    case "boolean":
      return "true or false";
    case "array": {
      const { minItems: min, maxItems: max } = schema;
      const count = min !== undefined && max !== undefined
        ? `${min} to ${max} `
        : min !== undefined
        ? `at least ${min} `
        : max !== undefined
        ? `at most ${max} `
        : "";
      return `a list of ${count}${schema.items ? plural(accepts(schema.items)) : "values"}`;
    }
    case "object": {
      const values = typeof schema.additionalProperties === "object"
        ? plural(accepts(schema.additionalProperties))
        : "values";
      return `an object whose values are ${values}`;
    }
    default:
      return "a valid value";
  }
}

function plural(what: string): string {
  return what.replace(/^an? (\w+)/, "$1s");
}

function range(schema: JsonSchema): string {
  const max = schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER
    ? schema.maximum
    : undefined;
  if (schema.exclusiveMinimum !== undefined) {
    return ` above ${schema.exclusiveMinimum}${max === undefined ? "" : ` and at most ${max}`}`;
  }
  if (schema.minimum !== undefined && schema.minimum > Number.MIN_SAFE_INTEGER) {
    return max === undefined
      ? ` of at least ${schema.minimum}`
      : ` from ${schema.minimum} to ${max}`;
  }
  return max === undefined ? "" : ` of at most ${max}`;
}
