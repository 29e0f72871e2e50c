// The bulletin page: its print button prints the sheet (the print style hides the rest).
document.getElementById("print")?.addEventListener("click", () => window.print());
