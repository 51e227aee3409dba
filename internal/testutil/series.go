package testutil

// SeriesWhere returns the series of a parsed exposition ("name{labels}" →
// value) whose key keep says to keep, for focused failure messages.
func SeriesWhere(series map[string]float64, keep func(key string) bool) map[string]float64 {
	out := map[string]float64{}
	for k, v := range series {
		if keep(k) {
			out[k] = v
		}
	}
	return out
}
