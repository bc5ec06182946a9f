// The v2 SDK's server package, for the HTTP face only: its per-request handler for the 2026-07-28
// era (createMcpHandler), the request classification both eras route by, and its Host, Origin
// and bearer-token checks. stdio never loads it (main.ts imports the HTTP face on demand).

export {
  createMcpHandler,
  isLegacyRequest,
  OAuthError,
  OAuthErrorCode,
  originValidationResponse,
  ProtocolError,
  requireBearerAuth,
  Server as ModernServer,
  validateHostHeader,
} from "npm:@modelcontextprotocol/server@2.4.0";
export type {
  AuthInfo,
  McpHttpHandler,
  ServerContext,
} from "npm:@modelcontextprotocol/server@2.4.0";

// The v1 SDK's Streamable HTTP transport, which serves the 2025-11-25 era's sessions with the same
// McpServer stdio uses (src/mcp/server.ts).
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/webStandardStreamableHttp"
export { WebStandardStreamableHTTPServerTransport } from "npm:@modelcontextprotocol/sdk@1.32.2/server/webStandardStreamableHttp.js";
