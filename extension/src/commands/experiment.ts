/** New Experiment: writes a built-in template (the MNIST demo first) into the workspace and opens it. */
import * as vscode from 'vscode';
import { TEMPLATES } from '../../../core/node/experiment/templates';
import { requireFolder } from './guards';

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** `mnist-demo.aft.yaml`, or `mnist-demo-2.aft.yaml` when that exists, and so on. */
async function freeName(folder: vscode.Uri, fileName: string): Promise<vscode.Uri> {
  const stem = fileName.replace(/\.aft\.ya?ml$/, '');
  const ext = fileName.slice(stem.length);
  for (let i = 1; ; i++) {
    const uri = vscode.Uri.joinPath(folder, i === 1 ? fileName : `${stem}-${i}${ext}`);
    if (!(await exists(uri))) return uri;
  }
}

export async function newExperimentCommand(templateId?: unknown): Promise<vscode.Uri | undefined> {
  const folder = requireFolder();
  if (!folder) return undefined;
  let template = TEMPLATES.find((t) => t.id === templateId);
  if (!template) {
    const pick =
      TEMPLATES.length === 1
        ? { template: TEMPLATES[0] }
        : await vscode.window.showQuickPick(
            TEMPLATES.map((t) => ({ label: t.title, description: t.fileName, template: t })),
            { title: 'AFT: New Experiment', placeHolder: 'Template' },
          );
    if (!pick) return undefined;
    template = pick.template;
  }
  const uri = await freeName(folder.uri, template.fileName);
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(template.text));
  await vscode.window.showTextDocument(uri);
  return uri;
}
