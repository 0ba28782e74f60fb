/** The id of the `<script type="application/json">` block an HTML report embeds its data in. */
export const REPORT_DATA_ID = 'aft-report-data';
