import { createHash } from 'node:crypto';
import type { ProjectView } from '../../db/projects';
import { formatCredits } from '../../domain';
import { Html, html } from './html';

/**
 * The credits page's projects (DESIGN.md §5): the user's latest MultiTask projects, each with a
 * <progress> bar rendered on the server (readable without JavaScript), kept current by a small
 * script that listens to `GET /usercredits/projects/events` (Server-Sent Events,
 * api/routes/project-events.ts). Hooks: `#projects`, `#project-list`,
 * `li.project[data-project-id][data-status]`, `progress`, `.project-tasks`, `.project-spent`.
 */

export const PROJECT_EVENTS_PATH = '/usercredits/projects/events';

/** What a row shows, as text: rendered here and sent in each event, so the script only places it. */
export interface ProjectRowView {
  id: string;
  name: string;
  status: ProjectView['status'];
  statusLabel: string;
  tasksCompleted: number;
  tasksTotal: number;
  creditsSpent: number;
  tasksText: string;
  spentText: string;
  /** The progress bar's accessible name. */
  label: string;
}

const STATUS_LABELS: Record<ProjectView['status'], string> = {
  running: 'Running',
  paused: 'Paused',
  completed: 'Completed',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

export function projectRowView(p: ProjectView): ProjectRowView {
  // No task list yet: the planning step is still making it.
  const tasksText =
    p.tasksTotal === 0 ? 'Planning the tasks' : `${p.tasksCompleted} of ${p.tasksTotal} tasks done`;
  return {
    id: p.id,
    name: p.name,
    status: p.status,
    statusLabel: STATUS_LABELS[p.status],
    tasksCompleted: p.tasksCompleted,
    tasksTotal: p.tasksTotal,
    creditsSpent: p.creditsSpent,
    tasksText,
    spentText: `${formatCredits(p.creditsSpent)} credits spent`,
    label: `${p.name}: ${tasksText}`,
  };
}

/**
 * Updates the rows from the event stream; a project the page has no row for (started after it
 * loaded) gets one cloned from the <template>. Text goes in with textContent only, never as
 * markup. Without EventSource, or when the stream is refused, the rows stay as rendered. The
 * page's Content-Security-Policy allows exactly this script, by its hash (api/page-response.ts).
 */
const PROGRESS_SCRIPT = `(function () {
  var list = document.getElementById('project-list'), template = document.getElementById('project-row');
  if (!list || !template || !window.EventSource) return;
  function rowFor(id) {
    for (var i = 0; i < list.children.length; i++)
      if (list.children[i].getAttribute('data-project-id') === id) return list.children[i];
    var row = template.content.firstElementChild.cloneNode(true);
    row.setAttribute('data-project-id', id);
    list.insertBefore(row, list.firstChild);
    document.getElementById('no-projects').hidden = true;
    return row;
  }
  new EventSource(list.getAttribute('data-events')).addEventListener('progress', function (event) {
    var p = JSON.parse(event.data), row = rowFor(p.id), bar = row.querySelector('progress');
    var status = row.querySelector('.project-status');
    row.setAttribute('data-status', p.status);
    row.querySelector('.project-name').textContent = p.name;
    status.textContent = p.statusLabel;
    status.className = 'status project-status ' + p.status;
    if (p.tasksTotal > 0) { bar.max = p.tasksTotal; bar.value = p.tasksCompleted; } else bar.removeAttribute('value');
    bar.setAttribute('aria-label', p.label);
    bar.textContent = p.tasksText;
    row.querySelector('.project-tasks').textContent = p.tasksText;
    row.querySelector('.project-spent').textContent = p.spentText;
  });
})();`;

/** For the pages' Content-Security-Policy: `script-src 'sha256-…'`. */
export const PROGRESS_SCRIPT_HASH = `sha256-${createHash('sha256').update(PROGRESS_SCRIPT).digest('base64')}`;

function projectItem(row: ProjectRowView): Html {
  const determinate = row.tasksTotal > 0;
  return html`<li class="project" data-project-id="${row.id}" data-status="${row.status}">
  <div class="project-head"><span class="project-name">${row.name}</span> <span class="status project-status ${row.status}">${row.statusLabel}</span></div>
  <progress max="${determinate ? row.tasksTotal : 1}"${determinate ? html` value="${row.tasksCompleted}"` : null} aria-label="${row.label}">${row.tasksText}</progress>
  <div class="muted"><span class="project-tasks">${row.tasksText}</span> · <span class="project-spent">${row.spentText}</span></div>
</li>`;
}

/** The row the script clones for a project that started after the page loaded. */
const TEMPLATE_ROW: ProjectRowView = {
  id: '',
  name: '',
  status: 'running',
  statusLabel: STATUS_LABELS.running,
  tasksCompleted: 0,
  tasksTotal: 0,
  creditsSpent: 0,
  tasksText: '',
  spentText: '',
  label: 'New project',
};

export function projectsSection(projects: ProjectView[]): Html {
  return html`<section id="projects" aria-labelledby="projects-title">
  <h2 id="projects-title">Projects</h2>
  <p class="muted">Your latest MultiTask projects. Progress updates by itself while this page is open.</p>
  <p class="muted" id="no-projects"${projects.length ? html` hidden` : null}>No projects yet. Start one with <code>POST /v1/projects</code>.</p>
  <ul class="projects" id="project-list" data-events="${PROJECT_EVENTS_PATH}">${projects.map((p) => projectItem(projectRowView(p)))}</ul>
  <template id="project-row">${projectItem(TEMPLATE_ROW)}</template>
</section>
<script>${new Html(PROGRESS_SCRIPT)}</script>`;
}
