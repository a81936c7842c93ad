// Sorts a table by a column when its heading is clicked: numbers by value, text by text, each
// click reversing. The pages work without it.
document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table.sortable")) {
    const heads = table.querySelectorAll("thead th");
    heads.forEach((th, i) => {
      th.querySelector("button").addEventListener("click", () => {
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        const value = (row) => row.cells[i].dataset.value;
        const numeric = rows.every((row) => value(row) !== "" && !isNaN(Number(value(row))));
        const down = th.getAttribute("aria-sort") !== "descending";
        heads.forEach((h) => h.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        rows.sort((a, b) => {
          const order = numeric
            ? Number(value(a)) - Number(value(b))
            : value(a).localeCompare(value(b));
          return down ? -order : order;
        });
        rows.forEach((row) => body.appendChild(row));
      });
    });
  }
});
