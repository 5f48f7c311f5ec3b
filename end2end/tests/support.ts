import { expect, type Page } from "@playwright/test";

/**
 * Collects uncaught page errors and console errors (hydration mismatches are reported there).
 * Check the returned list at the end of a test.
 */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  return errors;
}

/**
 * Nothing is wider than the window: no control needs sideways scrolling to be reached (a
 * terminal wider than its pane scrolls inside the pane). Waits
 * for the layout to settle (terminals refit after a resize); on failure, lists the innermost
 * elements that stick out.
 */
export async function expectNoSidewaysScrolling(page: Page) {
  await expect(() => fitsTheWindow(page)).toPass({ timeout: 5_000 });
}

async function fitsTheWindow(page: Page) {
  const sticking = await page.evaluate(() => {
    const out = (el: Element) => {
      // A terminal pane that follows its PTY's size scrolls inside its host; the host must fit.
      const host = el.closest(".terminal-host");
      if (host && host !== el) return false;
      const box = el.getBoundingClientRect();
      // Entirely off-screen elements are hidden on purpose (xterm.js measures glyphs that way).
      const visible = box.width > 0 && box.right > 0;
      return visible && (box.left < -0.5 || box.right > window.innerWidth + 0.5);
    };
    const all = [...document.querySelectorAll("body *")].filter(out);
    const innermost = all.filter((el) => ![...el.children].some(out));
    return innermost.slice(0, 10).map((el) => {
      const box = el.getBoundingClientRect();
      return `${el.tagName.toLowerCase()}.${el.className} [${Math.round(box.left)}..${Math.round(box.right)}] in ${el.parentElement?.className}`;
    });
  });
  expect(sticking).toEqual([]);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
}
