/**
 * Saving a chart or table the webview exported: webviews cannot download, so they send the
 * bytes (`export` message) and the host asks where to save them.
 */
import * as vscode from 'vscode';
import { safeFileName, type ExportFormat, type ExportMessage } from '../../../core/common/protocol/webview';

const FILTERS: Record<ExportFormat, Record<string, string[]>> = {
  png: { 'PNG image': ['png'] },
  svg: { 'SVG image': ['svg'] },
  csv: { 'CSV table': ['csv'] },
};

/** The bytes to write for an export (PNG arrives base64-encoded, SVG and CSV as text). */
export function exportBytes(msg: ExportMessage): Uint8Array {
  return msg.format === 'png' ? Buffer.from(msg.data, 'base64') : Buffer.from(msg.data, 'utf8');
}

/** Shows a save dialog (starting in `defaultDir`) and writes the file; returns where, if saved. */
export async function saveExport(
  msg: ExportMessage,
  defaultDir: vscode.Uri | undefined,
): Promise<vscode.Uri | undefined> {
  const name = safeFileName(msg.fileName, msg.format);
  const uri = await vscode.window.showSaveDialog({
    ...(defaultDir ? { defaultUri: vscode.Uri.joinPath(defaultDir, name) } : {}),
    filters: FILTERS[msg.format],
    saveLabel: `Save ${msg.format.toUpperCase()}`,
    title: `Export ${name}`,
  });
  if (!uri) return undefined;
  try {
    await vscode.workspace.fs.writeFile(uri, exportBytes(msg));
  } catch (e) {
    void vscode.window.showErrorMessage(`Could not save ${uri.fsPath}: ${(e as Error).message}`);
    return undefined;
  }
  void vscode.window.showInformationMessage(`Saved ${vscode.workspace.asRelativePath(uri)}`);
  return uri;
}
