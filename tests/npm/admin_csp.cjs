// Signs in to the Django admin in headless Chromium (Debian's, driven by
// playwright-core), opens the users' changelist and a change form, and
// prints one JSON object: every Content Security Policy violation the pages
// reported, every console message, every response of 400 or more, and what
// each page showed.
//
//   node admin_csp.cjs https://obcms.gov.ph USERNAME PASSWORD
//
// At the end it adds an inline script on purpose: CSP must block it and
// report it ("control"), which shows that violations would be seen.
const { launch, signIn, report } = require("./chromium.cjs");

const [baseUrl, username, password] = process.argv.slice(2);

async function main() {
  const browser = await launch();
  const result = { violations: [], console: [], failed: [], pages: {}, control: { violations: [], console: [] } };
  try {
    // The test's certificate is self-signed; the scanner test checks TLS.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    await context.exposeBinding("reportViolation", (_source, violation) => {
      result.violations.push(violation);
    });
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) => {
        window.reportViolation({
          page: location.pathname,
          directive: event.violatedDirective,
          blocked: event.blockedURI,
          source: event.sourceFile,
          line: event.lineNumber,
          sample: event.sample,
        });
      });
    });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    page.on("console", (message) => {
      result.console.push({ page: new URL(page.url()).pathname, type: message.type(), text: message.text() });
    });
    page.on("response", (response) => {
      if (response.status() >= 400) result.failed.push({ url: response.url(), status: response.status() });
    });
    page.on("pageerror", (error) => {
      result.console.push({ page: new URL(page.url()).pathname, type: "pageerror", text: String(error) });
    });
    const header = () => page.evaluate(() => getComputedStyle(document.querySelector("#header")).backgroundColor);

    await page.goto(`${baseUrl}/admin/`);
    result.pages.login = { url: page.url(), title: await page.title(), header: await header() };
    await signIn(page, baseUrl, username, password);
    result.pages.index = { url: page.url(), title: await page.title() };

    await page.goto(`${baseUrl}/admin/auth/user/`);
    // actions.js runs: ticking "select all" updates the counter.
    await page.check("#action-toggle");
    result.pages.changelist = {
      url: page.url(),
      title: await page.title(),
      rows: await page.locator("#result_list tbody tr").count(),
      counter: (await page.textContent(".action-counter")).trim(),
      header: await header(),
    };

    await page.click("#result_list tbody tr th a");
    await page.waitForSelector("#user_form");
    result.pages.change = { url: page.url(), title: await page.title() };
    await page.waitForTimeout(500);

    const seen = { violations: result.violations.length, console: result.console.length };
    await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "window.inlineScriptRan = true;";
      document.body.appendChild(script);
    });
    await page.waitForTimeout(500);
    result.control.violations = result.violations.splice(seen.violations);
    result.control.console = result.console.splice(seen.console);
    result.inlineScriptRan = await page.evaluate(() => window.inlineScriptRan === true);
  } finally {
    await browser.close();
  }
  return result;
}

report(main);
