// What the browser scripts share: Debian's headless Chromium (or CHROMIUM),
// driven by playwright-core, and the admin's sign-in form.
const { chromium } = require("playwright-core");

// As root in a sandbox with no way out: no sandbox, no background traffic.
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    timeout: 60000,
  });
}

// On the admin's login page: signs in and waits for the admin's index.
async function signIn(page, baseUrl, username, password) {
  await page.fill("#id_username", username);
  await page.fill("#id_password", password);
  await Promise.all([page.waitForURL(`${baseUrl}/admin/`), page.click("input[type=submit]")]);
}

// Runs a script's main() and prints its result as one line of JSON.
function report(main) {
  main()
    .then((result) => console.log(JSON.stringify(result)))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}

module.exports = { launch, signIn, report };
