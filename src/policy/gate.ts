/**
 * The gate a start passes through: the policy in force with its checks. The checks parse commands
 * with mvdan-sh, a GopherJS build that costs a server about 12 MiB of memory; it is loaded (once
 * per process) only when rules are set, so a server without a policy never carries it.
 *
 * @module
 */
import type { Policy, PolicyDecision } from "./rules.ts";

/** The policy in force, with its checks: what the engine asks before a command or an env runs. */
export interface PolicyGate extends Policy {
  checkCommand(command: string): PolicyDecision;
  checkEnv(env: Record<string, string>): PolicyDecision;
}

const ALLOWED: PolicyDecision = { allowed: true };

/** The gate of `policy`. Without rules (and with no error) it allows everything, parser-free. */
export async function openPolicyGate(policy: Policy): Promise<PolicyGate> {
  if (policy.error === undefined && policy.allow.length === 0 && policy.deny.length === 0) {
    return { ...policy, checkCommand: () => ALLOWED, checkEnv: () => ALLOWED };
  }
  const { checkCommand, checkEnv } = await import("./policy.ts");
  return {
    ...policy,
    checkCommand: (command) => checkCommand(policy, command),
    checkEnv: (env) => checkEnv(policy, env),
  };
}
