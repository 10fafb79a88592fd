// Opens hostile uploads as a signed-in admin in headless Chromium (Debian's,
// driven by playwright-core) and prints one JSON object saying what ran.
//
//   node uploads_run.cjs https://obcms.gov.ph USERNAME PASSWORD PAGE URL...
//
// Each upload's script, if it ever runs, logs "UPLOAD-SCRIPT-RAN <name>" to
// the console. Every URL is opened directly (a page, a drawing, a script, an
// image that is also a page), and PAGE, a page of the site that loads every
// URL as a <script>, is opened last.
const { launch, signIn, report } = require("./chromium.cjs");

const [baseUrl, username, password, includingPage, ...uploads] = process.argv.slice(2);

async function main() {
  const browser = await launch();
  const result = { ran: [], opened: {}, console: [] };
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    page.on("console", (message) => {
      const text = message.text();
      if (text.startsWith("UPLOAD-SCRIPT-RAN")) result.ran.push(text);
      else result.console.push(text);
    });

    await page.goto(`${baseUrl}/admin/login/`);
    await signIn(page, baseUrl, username, password);

    for (const upload of uploads) {
      const download = page.waitForEvent("download", { timeout: 5000 }).catch(() => null);
      let shown = null;
      try {
        const response = await page.goto(`${baseUrl}${upload}`);
        shown = { status: response.status(), type: response.headers()["content-type"] };
      } catch (error) {
        // Navigating to an attachment starts a download instead of a page.
        if (!String(error).includes("Download is starting")) throw error;
      }
      const downloaded = await download;
      result.opened[upload] = { shown, downloaded: downloaded !== null };
      if (downloaded) await downloaded.cancel();
      await page.waitForTimeout(300);
    }

    await page.goto(`${baseUrl}${includingPage}`);
    await page.waitForTimeout(1000);
  } finally {
    await browser.close();
  }
  return result;
}

report(main);
