/// The plain upload page at `/`: a form that posts to the API and follows the job's status.
enum UploadPage {
    static let html = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>halfsize</title>
    <style>
    body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
    h1 { font-size: 1.5rem; }
    fieldset { border: 1px solid #ccc; padding: 1rem; }
    button { font: inherit; padding: .4rem 1rem; }
    #result { margin-top: 1.5rem; white-space: pre-wrap; }
    .error { color: #a00; }
    </style>
    </head>
    <body>
    <h1>halfsize</h1>
    <p>Upload a CSV with the columns <code>S. No.</code>, <code>Product Name</code> and <code>Input Image Urls</code>.
    Every image is downloaded and shrunk to half its width and height; the output CSV adds <code>Output Image Urls</code>.</p>
    <form id="upload" method="post" action="/api/v1/jobs" enctype="multipart/form-data">
    <fieldset>
    <label for="file">CSV file</label>
    <input id="file" name="file" type="file" accept=".csv,text/csv" required>
    <button type="submit">Upload</button>
    </fieldset>
    </form>
    <div id="result" role="status" aria-live="polite"></div>
    <script>
    const result = document.getElementById('result');
    function show(text, isError) { result.textContent = text; result.className = isError ? 'error' : ''; }
    async function follow(url) {
      const response = await fetch(url);
      const job = await response.json();
      const i = job.images;
      show(`Job ${job.reference}: ${job.status}\\n${i.resized} of ${i.total} images halved, ${i.failed} failed, ${i.pending + i.downloaded} in progress.`);
      if (job.output_csv_url) {
        const link = document.createElement('a');
        link.href = job.output_csv_url; link.textContent = 'Download the output CSV';
        result.append('\\n', link);
        for (const e of job.errors) result.append(`\\nRow ${e.row}, image ${e.position}: ${e.code}: ${e.message}`);
      } else {
        setTimeout(() => follow(url), 1000);
      }
    }
    document.getElementById('upload').addEventListener('submit', async (event) => {
      event.preventDefault();
      show('Uploading…');
      const response = await fetch('/api/v1/jobs', { method: 'POST', body: new FormData(event.target) });
      const body = await response.json();
      if (!response.ok) {
        const details = (body.error.details || []).map(d => `Row ${d.row}${d.column ? ', ' + d.column : ''}: ${d.code}: ${d.message}`);
        show([body.error.message, ...details].join('\\n'), true);
        return;
      }
      follow(body.status_url);
    });
    </script>
    </body>
    </html>
    """
}
