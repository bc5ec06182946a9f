/**
 * The dashboard's two HTML documents: the shell every logged-in page loads (the script draws the
 * list or a task into it), with the session's CSRF token for the script to send; and the login
 * page. Plain HTML, no inline script or style (the Content-Security-Policy forbids both).
 *
 * @module
 */

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

const HEAD = `<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/style.css">`;

/** The page the script fills: the list at `/`, a task at `/tasks/ID`. */
export function shellPage(options: { csrf: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
${HEAD}
<meta name="csrf-token" content="${escape(options.csrf)}">
<title>backburner</title>
<script src="/assets/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/"><img src="/assets/icon.svg" alt="" width="22" height="22"> backburner</a>
  <span id="live" class="live" role="status" aria-live="polite">connecting…</span>
</header>
<main id="main" tabindex="-1"><noscript>The dashboard needs JavaScript.</noscript></main>
</body>
</html>
`;
}

/** The login page: what to do to get in, and the token form when the server has a token. */
export function loginPage(options: { tokenForm: boolean; error?: string }): string {
  const error = options.error === undefined
    ? ""
    : `<p class="error" role="alert">${escape(options.error)}</p>`;
  const form = options.tokenForm
    ? `<form method="post" action="/login" class="login-form">
  <label for="token">Token</label>
  <input id="token" name="token" type="password" autocomplete="off" required autofocus>
  <button type="submit">Log in</button>
</form>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
${HEAD}
<title>backburner — log in</title>
</head>
<body>
<main id="main" class="login">
  <h1><img src="/assets/icon.svg" alt="" width="28" height="28"> backburner</h1>
  ${error}
  <p>Open the one-time link that <code>backburner dashboard</code> or
  <code>backburner serve --http</code> printed${
    options.tokenForm ? ", or paste the token that <code>backburner token</code> prints" : ""
  }.</p>
  ${form}
</main>
</body>
</html>
`;
}
