// Types for dashboards/cloudquota.json, from @grafana/schema.
//
// make_check.py writes dashboard.gen.ts: the dashboard JSON as an object
// literal typed DashboardJSON (so that tsc checks every key: a misspelt or
// unknown one is an error, not an extra), and each panel once more as the
// panel type's own options and field config.
import type { Dashboard, FieldConfigSource, Panel } from '@grafana/schema';
import type * as TimeSeries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import type * as Table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as StateTimeline from '@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen';
import type * as Text from '@grafana/schema/dist/esm/raw/composable/text/panelcfg/x/TextPanelCfg_types.gen';

// JSON has no enums: Json<T> turns each string enum of T into the union of
// its values ("absolute" where ThresholdsMode.Absolute is meant).
export type Json<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Json<U>[]
      : T extends object
        ? { [K in keyof T]: Json<T[K]> }
        : T;

export type DashboardJSON = Json<Dashboard>;

// Every key optional, at every depth: Grafana fills in the panel schema's
// defaults (legend.calcs, a table's frameIndex, ...), so a dashboard need
// not spell them out; keys and value types are still checked.
export type DeepPartial<T> = T extends ReadonlyArray<infer U>
  ? DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

// A panel of one type: its options and fieldConfig.defaults.custom typed by
// that panel's schema instead of Record<string, unknown>.
type TypedPanel<Type extends string, Options, Custom> = Json<
  Omit<Panel, 'type' | 'options' | 'fieldConfig'> & {
    type: Type;
    options: DeepPartial<Options>;
    fieldConfig?: Omit<FieldConfigSource, 'defaults'> & {
      defaults: Omit<FieldConfigSource['defaults'], 'custom'> & { custom?: DeepPartial<Custom> };
    };
  }
>;

export type TimeSeriesPanel = TypedPanel<'timeseries', TimeSeries.Options, TimeSeries.FieldConfig>;
export type TablePanel = TypedPanel<'table', Table.Options, Table.FieldConfig>;
export type StatPanel = TypedPanel<'stat', Stat.Options, Record<string, never>>;
export type StateTimelinePanel = TypedPanel<'state-timeline', StateTimeline.Options, StateTimeline.FieldConfig>;
export type TextPanel = TypedPanel<'text', Text.Options, Record<string, never>>;
