import { ownEntry } from '../../domain';

const FEATURE_LABELS: Record<string, string> = {
  conversation: 'Agent conversations',
  continuation: 'Conversation continuation',
  rag: 'RAG mode queries',
  upskilling: 'Agent upskilling',
};

/** A usage feature as the pages name it ("rag" → "RAG mode queries", "project_task" → "Project task"). */
export function featureLabel(feature: string): string {
  const label = ownEntry(FEATURE_LABELS, feature) ?? feature.replace(/[_:-]+/g, ' ');
  return label.charAt(0).toUpperCase() + label.slice(1);
}
