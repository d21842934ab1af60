// Tiny DOM helpers shared by the views.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
}

export function cloneTemplate(id: string): HTMLElement {
  const template = byId<HTMLTemplateElement>(id);
  return template.content.firstElementChild!.cloneNode(true) as HTMLElement;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const errorBox = () => byId("error");

export function showError(message: string): void {
  errorBox().textContent = message;
  errorBox().hidden = false;
}

export function clearError(): void {
  errorBox().hidden = true;
  errorBox().textContent = "";
}
